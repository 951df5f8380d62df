// conversation: a chat as the page keeps it and sluice's store saves it (verbatim JSON), with the
// alternatives it keeps: an answer's earlier versions (Regenerate) and, from a user message that
// was edited and sent again, the chat's earlier continuations (branches).
import type { Stats } from "./render";

// One answer. `stopped`: the reader stopped the reply (it is incomplete, and says so).
export interface Answer { content: string; thinking?: string; stats?: Stats; error?: string; stopped?: boolean }

// A message's own fields are its current alternative: the one shown, and sent as history. The
// others wait beside it: an assistant's earlier answers in `versions`, a user message's earlier
// tails (that message and every one after it) in `branches`; `version` and `branch` are the
// current one's place among all of them. A message without alternatives has neither field.
export interface Message extends Answer {
  role: "user" | "assistant";
  versions?: Answer[];
  version?: number;
  branches?: Message[][];
  branch?: number;
}

export interface Conversation { id: string; title: string; system?: string; messages: Message[] }

// All the alternatives in order: the others, with the current one put back in its place.
function all<T>(others: T[] | undefined, place: number | undefined, current: T): T[] {
  const list = others ?? [];
  const at = place ?? list.length;
  return [...list.slice(0, at), current, ...list.slice(at)];
}

// An assistant message's answer, without the versions kept beside it.
function answerOf(message: Message): Answer {
  const { role, versions, version, branches, branch, ...answer } = message;
  return answer;
}

// The chat from message `index` on, that message without the branches kept beside it.
function tailFrom(messages: Message[], index: number): Message[] {
  const { branches, branch, ...head } = messages[index];
  return [head, ...messages.slice(index + 1)];
}

const versionsOf = (message: Message) => all(message.versions, message.version, answerOf(message));
const tailsOf = (messages: Message[], index: number) => all(messages[index].branches, messages[index].branch, tailFrom(messages, index));

// Where a message stands among its alternatives (0-based), and how many there are.
export function placeOf(message: Message): { at: number; count: number } {
  const others = (message.role === "assistant" ? message.versions : message.branches) ?? [];
  return { at: (message.role === "assistant" ? message.version : message.branch) ?? others.length, count: others.length + 1 };
}

// Regenerate: an empty answer to stream into, in place of `message`, which becomes a version.
export function newVersion(message: Message): Message {
  const versions = versionsOf(message);
  return { role: "assistant", content: "", versions, version: versions.length };
}

// Edit and send again: `content` as message `index`, from which the chat so far is kept as a branch.
export function newBranch(messages: Message[], index: number, content: string): Message[] {
  const branches = tailsOf(messages, index);
  return [...messages.slice(0, index), { role: "user", content, branches, branch: branches.length }];
}

// The chat's messages with message `index` showing its alternative `to` instead.
export function switchTo(messages: Message[], index: number, to: number): Message[] {
  const before = messages.slice(0, index);
  if (messages[index].role === "assistant") {
    const versions = versionsOf(messages[index]);
    const [chosen] = versions.splice(to, 1);
    return [...before, { role: "assistant", ...chosen, versions, version: to }, ...messages.slice(index + 1)];
  }
  const tails = tailsOf(messages, index);
  const [[head, ...rest]] = tails.splice(to, 1);
  return [...before, { ...head, branches: tails, branch: to }, ...rest];
}

// An id for a chat or a request. Not crypto.randomUUID: that exists only in a secure context
// (https or localhost), and the page is also opened over plain http from other devices.
export const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
