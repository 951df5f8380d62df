// main: the chat page. Talks to sluice over /_sluice/ws (one frame per Ollama NDJSON line,
// tagged with the chat's id) and to Ollama's plain HTTP API through sluice for /api/tags.
import "./style.css";
import hljs from "highlight.js/lib/common";
import "highlight.js/styles/github-dark.css";
import { formatStats, markdownToSafeHtml, splitThinking, type Stats } from "./render";

interface Message { role: "user" | "assistant"; content: string; thinking?: string; stats?: Stats; error?: string }
interface Conversation { id: string; title: string; messages: Message[] }

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelSelect = $<HTMLSelectElement>("model");
const statusLine = $<HTMLSpanElement>("status");
const messagesView = $<HTMLElement>("messages");
const input = $<HTMLTextAreaElement>("input");
const sendButton = $<HTMLButtonElement>("send");
const stopButton = $<HTMLButtonElement>("stop");
const conversationList = $<HTMLUListElement>("conversations");

// --- conversations, kept in localStorage -------------------------------------------------------

const storageKey = "sluice.conversations";
let conversations: Conversation[] = JSON.parse(localStorage.getItem(storageKey) ?? "[]");
let current: Conversation = conversations[0] ?? newConversation();

function newConversation(): Conversation {
  const conversation = { id: crypto.randomUUID(), title: "New chat", messages: [] };
  conversations.unshift(conversation);
  return conversation;
}

function save() {
  localStorage.setItem(storageKey, JSON.stringify(conversations));
}

function showConversations() {
  conversationList.replaceChildren(
    ...conversations.map((conversation) => {
      const item = document.createElement("li");
      item.classList.toggle("active", conversation === current);
      const title = document.createElement("span");
      title.textContent = conversation.title;
      title.onclick = () => {
        if (inFlight) return;
        current = conversation;
        showAll();
      };
      const remove = document.createElement("button");
      remove.textContent = "×";
      remove.title = "Delete";
      remove.onclick = () => {
        if (inFlight && conversation === current) return;
        conversations = conversations.filter((c) => c !== conversation);
        if (conversation === current) current = conversations[0] ?? newConversation();
        save();
        showAll();
      };
      item.append(title, remove);
      return item;
    }),
  );
}

// --- rendering: only the message that grows is re-rendered, at most once per frame ------------

interface MessageView { root: HTMLElement; thinking: HTMLDetailsElement; thinkingText: HTMLElement; body: HTMLElement; stats: HTMLElement }

function messageView(message: Message): MessageView {
  const root = document.createElement("article");
  root.className = `message ${message.role}`;
  const thinking = document.createElement("details");
  thinking.hidden = true;
  const summary = document.createElement("summary");
  summary.textContent = "Thinking";
  const thinkingText = document.createElement("div");
  thinkingText.style.whiteSpace = "pre-wrap";
  thinking.append(summary, thinkingText);
  const body = document.createElement("div");
  body.className = "body";
  const stats = document.createElement("div");
  stats.className = "stats";
  root.append(thinking, body, stats);
  return { root, thinking, thinkingText, body, stats };
}

function fill(view: MessageView, message: Message, streaming: boolean) {
  if (message.role === "user") {
    view.body.textContent = message.content;
    return;
  }
  const inline = splitThinking(message.content);
  const thinking = (message.thinking ?? "") + inline.thinking;
  view.thinking.hidden = thinking.length === 0;
  view.thinking.open = streaming && inline.answer.trim().length === 0;
  view.thinkingText.textContent = thinking;  // text, never HTML
  view.body.innerHTML = markdownToSafeHtml(inline.answer);
  if (message.error) {
    const error = document.createElement("p");
    error.className = "error";
    error.textContent = message.error;
    view.body.append(error);
  }
  if (!streaming) view.body.querySelectorAll("pre code").forEach((code) => hljs.highlightElement(code as HTMLElement));
  view.stats.textContent = message.stats ? formatStats(message.stats) : "";
}

function showAll() {
  messagesView.replaceChildren(
    ...current.messages.map((message) => {
      const view = messageView(message);
      fill(view, message, false);
      return view.root;
    }),
  );
  showConversations();
  messagesView.scrollTop = messagesView.scrollHeight;
}

// --- the socket ---------------------------------------------------------------------------------

interface Frame { id: string; line?: any; done?: boolean; cancelled?: boolean; error?: string }
interface Pending { message: Message; view: MessageView; sentAt: number; scheduled: boolean }

let socket: WebSocket | undefined;
let inFlight: { id: string; pending: Pending } | undefined;

function connect(): Promise<WebSocket> {
  if (socket && socket.readyState === WebSocket.OPEN) return Promise.resolve(socket);
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/_sluice/ws`);
    ws.onopen = () => {
      socket = ws;
      resolve(ws);
    };
    ws.onerror = () => reject(new Error("cannot open the WebSocket to sluice"));
    ws.onmessage = (event) => onFrame(JSON.parse(event.data as string) as Frame);
    ws.onclose = () => {
      if (inFlight) end(inFlight.pending, "connection to sluice lost");
      socket = undefined;
    };
  });
}

function schedule(pending: Pending) {
  if (pending.scheduled) return;
  pending.scheduled = true;
  requestAnimationFrame(() => {
    pending.scheduled = false;
    fill(pending.view, pending.message, inFlight?.pending === pending);
    messagesView.scrollTop = messagesView.scrollHeight;
  });
}

function onFrame(frame: Frame) {
  if (!inFlight || frame.id !== inFlight.id) return;
  const pending = inFlight.pending;
  const message = pending.message;
  if (frame.line) {
    const line = frame.line;
    if (line.error) message.error = String(line.error);
    const piece = line.message ?? {};
    if ((piece.content || piece.thinking) && message.stats?.ttftMs === undefined) {
      message.stats = { ...message.stats, ttftMs: performance.now() - pending.sentAt };
    }
    if (piece.content) message.content += piece.content;
    if (piece.thinking) message.thinking = (message.thinking ?? "") + piece.thinking;
    if (line.done && line.eval_count && line.eval_duration) {
      message.stats = {
        ...message.stats,
        evalCount: line.eval_count,
        promptCount: line.prompt_eval_count,
        tokensPerSecond: line.eval_count / (line.eval_duration / 1e9),
      };
    }
    schedule(pending);
    return;
  }
  if (frame.error) end(pending, frame.error);
  else if (frame.done) end(pending, frame.cancelled ? "stopped" : undefined);
}

function end(pending: Pending, note?: string) {
  if (note && note !== "stopped") pending.message.error = note;
  inFlight = undefined;
  fill(pending.view, pending.message, false);
  sendButton.hidden = false;
  stopButton.hidden = true;
  save();
}

async function send() {
  const text = input.value.trim();
  if (!text || inFlight || !modelSelect.value) return;
  input.value = "";
  if (current.messages.length === 0) current.title = text.slice(0, 40);
  current.messages.push({ role: "user", content: text });
  const history = current.messages.map((m) => ({ role: m.role, content: m.content }));
  const reply: Message = { role: "assistant", content: "" };
  current.messages.push(reply);
  save();
  showAll();
  const view = messageView(reply);
  messagesView.lastElementChild?.replaceWith(view.root);
  const id = crypto.randomUUID();
  inFlight = { id, pending: { message: reply, view, sentAt: performance.now(), scheduled: false } };
  sendButton.hidden = true;
  stopButton.hidden = false;
  try {
    const ws = await connect();
    ws.send(JSON.stringify({ id, chat: { model: modelSelect.value, messages: history, stream: true } }));
  } catch (error) {
    end(inFlight.pending, (error as Error).message);
  }
}

function stop() {
  if (inFlight && socket) socket.send(JSON.stringify({ id: inFlight.id, cancel: true }));
}

// --- models -------------------------------------------------------------------------------------

async function loadModels() {
  try {
    const response = await fetch("/api/tags");
    const tags = (await response.json()) as { models?: { name: string; size?: number; details?: { quantization_level?: string } }[] };
    const models = tags.models ?? [];
    modelSelect.replaceChildren(
      ...models.map((model) => {
        const option = document.createElement("option");
        option.value = model.name;
        const size = model.size ? ` · ${(model.size / 1e9).toFixed(1)} GB` : "";
        const quantization = model.details?.quantization_level ? ` · ${model.details.quantization_level}` : "";
        option.textContent = `${model.name}${size}${quantization}`;
        return option;
      }),
    );
    const saved = localStorage.getItem("sluice.model");
    if (saved && models.some((m) => m.name === saved)) modelSelect.value = saved;
    statusLine.textContent = models.length ? "" : "no models installed";
  } catch {
    statusLine.textContent = "cannot list models (is Ollama up?)";
  }
}

// --- wiring -------------------------------------------------------------------------------------

$<HTMLFormElement>("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  void send();
});
input.addEventListener("keydown", (event) => {
  // Enter while an input method is composing (Chinese, Japanese) confirms the composition.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  void send();
});
stopButton.addEventListener("click", stop);
modelSelect.addEventListener("change", () => localStorage.setItem("sluice.model", modelSelect.value));
$<HTMLButtonElement>("new-chat").addEventListener("click", () => {
  if (inFlight) return;
  current = current.messages.length === 0 ? current : newConversation();
  save();
  showAll();
});

showAll();
void loadModels();
