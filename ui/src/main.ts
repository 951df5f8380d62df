// main: the chat page. Talks to sluice over /_sluice/ws (one frame per Ollama NDJSON line,
// tagged with the chat's id), to Ollama's plain HTTP API through sluice for /api/tags,
// /api/ps, /api/show, /api/pull and /api/delete, and to sluice's own /_sluice/api/ for what the key may do
// and what the rewriter will run. When sluice wants an API key (a 401), the page shows a login view; the
// key is sent once to /_sluice/login and the page then rides on an HttpOnly session cookie. The
// chats are kept by sluice when it has a conversation store (store.ts), else in localStorage.
import "./style.css";
import { newBranch, newId, newVersion, placeOf, switchTo, type Conversation, type Message } from "./conversation";
import { MarkdownView, warmUp } from "./markdown_view";
import { loadMath } from "./math";
import { formatStats, splitThinking } from "./render";
import { exportAllPath, exportPath, importConversations, importLocal, Store } from "./store";
import { Attachments, imageStrip } from "./attachments";
import { badges, ModelsPanel, pullModel } from "./models";
import { fetchFindings, findingItem, findingItems } from "./findings";
import { explain, ParametersPanel, planText } from "./parameters";
import { showToolCalls, thinkingTitle } from "./tool_calls";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const modelSelect = $<HTMLSelectElement>("model");
const statusLine = $<HTMLSpanElement>("status");
const messagesView = $<HTMLElement>("messages");
const input = $<HTMLTextAreaElement>("input");
const sendButton = $<HTMLButtonElement>("send");
const stopButton = $<HTMLButtonElement>("stop");
const conversationList = $<HTMLUListElement>("conversations");
const searchInput = $<HTMLInputElement>("search");
const systemInput = $<HTMLTextAreaElement>("system");
const thinkSelect = $<HTMLSelectElement>("think");
const loadedLine = $<HTMLSpanElement>("loaded");
const planLine = $<HTMLSpanElement>("plan");
const pullForm = $<HTMLFormElement>("pull");
const doctorBox = $<HTMLDetailsElement>("doctor-box");
const doctorList = $<HTMLUListElement>("doctor");
const loginKey = $<HTMLInputElement>("login-key");
const loginError = $<HTMLParagraphElement>("login-error");
const logoutButton = $<HTMLButtonElement>("logout");
const menuButton = $<HTMLButtonElement>("menu");
const sidebar = $<HTMLElement>("sidebar");
const jumpButton = $<HTMLButtonElement>("jump");
const notice = $<HTMLParagraphElement>("notice");
const savedLine = $<HTMLSpanElement>("saved");
const transferBox = $<HTMLDetailsElement>("transfer");
const exportCurrent = $<HTMLParagraphElement>("export-current");
const exportJson = $<HTMLAnchorElement>("export-json");
const exportMarkdown = $<HTMLAnchorElement>("export-markdown");
const importFile = $<HTMLInputElement>("import-file");
const transferStatus = $<HTMLParagraphElement>("transfer-status");

// --- conversations: in sluice's store when it has one (store.ts), else in localStorage ---------

const storageKey = "sluice.conversations";
let conversations: Conversation[] = JSON.parse(localStorage.getItem(storageKey) ?? "[]");  // the sidebar's list
let current: Conversation = conversations[0] ?? newConversation();
let editFrom: number | undefined;  // the user message being edited: a new branch starts there
let store: Store | undefined;  // sluice's store, once /_sluice/api/me has said there is one
let storeKey: string | null | undefined;  // the API key's name the store is used for
let more: string | null = null;  // where the store's next page of the list starts
let found: Conversation[] | undefined;  // the store's answer to the search box's words
const streamingSaveMs = 3000;  // while a reply streams, a restart loses at most its last seconds

function newConversation(): Conversation {
  const conversation = { id: newId(), title: "New chat", messages: [] };
  conversations.unshift(conversation);
  return conversation;
}

// A chat with nothing in it yet (one the store listed but the page has not loaded may have anything).
const isBlank = (conversation: Conversation) =>
  !store?.needsLoad(conversation) && !conversation.messages.length && !conversation.system;

// The chat on screen takes changes unless a reply streams into it or it is still loading.
const changeable = () => inFlight?.conversation !== current && !store?.needsLoad(current);

function select(conversation: Conversation) {
  current = conversation;
  endEdit();
  views = new Map();
  following = true;
  showAll();
  showComposer();
  // A reply streaming elsewhere goes on: the page says so, and where.
  if (inFlight && inFlight.conversation !== conversation) {
    showNotice(`The reply in “${inFlight.conversation.title}” goes on in the background: open that chat to watch or stop it.`);
  } else {
    showNotice("");
  }
  void open(conversation);
}

// Whether the page has all of `conversation`: a chat the store listed is loaded first.
async function loaded(conversation: Conversation): Promise<boolean> {
  if (!store?.needsLoad(conversation)) return true;
  try {
    await store.load(conversation);
    return true;
  } catch (error) {
    showNotice(`Cannot open “${conversation.title}”: ${(error as Error).message}`);
    return false;
  }
}

async function open(conversation: Conversation) {
  if (store?.needsLoad(conversation) && (await loaded(conversation)) && conversation === current) showAll();
}

function showNotice(text: string) {
  notice.textContent = text;
  notice.hidden = !text;
}

// `conversation` changed: sluice's store gets it soon (in `delayMs`), or this browser's
// localStorage at once, with all the others.
function save(conversation: Conversation, delayMs?: number) {
  if (store) {
    store.save(conversation, delayMs);
    return;
  }
  try {
    localStorage.setItem(storageKey, JSON.stringify(conversations));
  } catch {
    // Full (images take room): the chats stay on the page, and the reply is still asked for.
    showNotice("This browser's storage is full: the latest changes are not kept. Delete chats with images to make room.");
  }
}

// sluice keeps the chats (its store is on): what this browser kept goes there once, then the
// sidebar lists the store's chats. Another key logging in gets its own.
async function useStore(key: string | null) {
  if (key === storeKey) return;
  storeKey = key;
  try {
    await importLocal(call, storageKey);
  } catch (error) {
    storeKey = undefined;  // tried again at the next login or load
    showNotice(`Your chats stay in this browser only: sluice could not take them (${(error as Error).message}).`);
    return;
  }
  const previous = store;
  previous?.close();
  store = new Store(key, call, { inUse: (c) => c === inFlight?.conversation, trouble: onTrouble });
  if (previous) {  // another key's chats leave the page
    conversations = [];
    select(newConversation());
  } else if (!isBlank(current)) {
    store.hold(current);
  }
  conversations = [...store.restoreUnsaved(), current];
  await listConversations();
  // The page opened on a blank chat while the list came: the newest chat is opened instead.
  const newest = conversations.find((c) => c !== current);
  if (newest && isBlank(current)) {
    conversations = conversations.filter((c) => c !== current);
    select(newest);
  }
}

// The sidebar's list from the store: its newest chats (`after`: the next page of them), and on
// top those it does not list (yet): a new chat, one not saved yet, the one on screen.
async function listConversations(after?: string) {
  const source = store;
  if (!source) return;
  try {
    const listing = await source.list(after);
    if (source !== store) return;  // another key logged in meanwhile
    if (after) {
      conversations.push(...listing.conversations.filter((c) => !conversations.includes(c)));
    } else {
      const listed = new Set(listing.conversations);
      const unlisted = conversations.filter((c) => !listed.has(c) && (c === current || c === inFlight?.conversation || source.pending(c)));
      conversations = [...unlisted, ...listing.conversations];
      void open(current);  // changed on another device
    }
    more = listing.next;
    showConversations();
  } catch (error) {
    showNotice(`Cannot list the chats kept by sluice: ${(error as Error).message}`);
  }
}

// A save or delete in the store failed, or went through after failing.
function onTrouble(conversation: Conversation, deleting: boolean) {
  const error = store?.unsavedError(conversation);
  if (deleting && error) showNotice(`“${conversation.title}” is not deleted in sluice yet: ${error} (trying again)`);
  showConversations();
  showSaved();
}

// Said while the chat on screen is not in the store as it is (saving it is tried again).
function showSaved() {
  const error = store?.unsavedError(current);
  savedLine.hidden = error === undefined;
  savedLine.textContent = error === undefined ? "" : `not saved yet: ${error} (trying again)`;
}

// The search box asks the store once the typing pauses. Until it answers, and without a store,
// the page searches the chats it has.
let searchTimer: ReturnType<typeof setTimeout> | undefined;

function onSearchInput() {
  found = undefined;
  showConversations();
  clearTimeout(searchTimer);
  if (store && searchInput.value.trim()) searchTimer = setTimeout(() => void search(), 300);
}

async function search() {
  const words = searchInput.value.trim();
  try {
    const results = await store?.search(words);
    if (searchInput.value.trim() !== words) return;  // typed on meanwhile
    found = results;
    showConversations();
  } catch (error) {
    showNotice(`Cannot search the chats kept by sluice: ${(error as Error).message}`);
  }
}

function matches(conversation: Conversation, query: string): boolean {
  const text = (s: string) => s.toLowerCase().includes(query);
  return text(conversation.title) || conversation.messages.some((m) => text(m.content));
}

function showConversations() {
  const query = searchInput.value.trim().toLowerCase();
  const shown = query ? (found ?? conversations.filter((c) => matches(c, query))) : conversations;
  conversationList.replaceChildren(...shown.map(conversationItem), ...(more && !query ? [moreItem(more)] : []));
  transferBox.hidden = !store;
  exportCurrent.hidden = isBlank(current);
  exportJson.href = exportPath(current.id, "json");
  exportMarkdown.href = exportPath(current.id, "markdown");
}

function conversationItem(conversation: Conversation): HTMLLIElement {
  const item = document.createElement("li");
  item.classList.toggle("active", conversation === current);
  const streaming = conversation === inFlight?.conversation;
  item.classList.toggle("streaming", streaming);
  const unsaved = store?.unsavedError(conversation);
  item.classList.toggle("unsaved", unsaved !== undefined);
  const title = document.createElement("span");
  title.textContent = conversation.title;
  title.title = unsaved ? `not saved yet: ${unsaved}` : streaming ? "a reply is streaming here" : "";
  title.onclick = () => {
    closeSidebar();
    select(conversation);
  };
  const rename = document.createElement("button");
  rename.textContent = "✎";
  rename.title = "Rename";
  rename.className = "rename";
  rename.onclick = () => renameInPlace(conversation, title);
  const remove = document.createElement("button");
  remove.textContent = "×";
  remove.title = "Delete";
  remove.onclick = () => {
    const stopped = conversation === inFlight?.conversation && stopInFlight();
    conversations = conversations.filter((c) => c !== conversation);
    found = found?.filter((c) => c !== conversation);
    if (store) store.remove(conversation);
    else save(conversation);  // (the list without it)
    select(conversation === current ? (conversations[0] ?? newConversation()) : current);
    if (stopped) showNotice(`Stopped the reply in “${conversation.title}” and deleted that chat.`);
  };
  item.append(title, rename, remove);
  return item;
}

// The store lists its chats a page at a time: the next page, on demand.
function moreItem(after: string): HTMLLIElement {
  const item = document.createElement("li");
  item.className = "more";
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "More";
  button.onclick = () => void listConversations(after);
  item.append(button);
  return item;
}

// The title becomes a text field; Enter or leaving it keeps the new name, Escape the old one.
function renameInPlace(conversation: Conversation, title: HTMLElement) {
  const field = document.createElement("input");
  field.value = conversation.title;
  field.className = "rename-field";
  let done = false;
  const finish = async (keep: boolean) => {
    if (done) return;
    done = true;
    const name = field.value.trim();
    // The store takes a whole chat: one it listed is loaded before it is saved with its new name.
    if (keep && name && name !== conversation.title && (await loaded(conversation))) {
      conversation.title = name;
      save(conversation);
    }
    showConversations();
  };
  field.onkeydown = (event) => {
    if (event.key === "Enter") void finish(true);
    if (event.key === "Escape") {
      event.stopPropagation();  // cancels the rename only, the drawer stays open
      void finish(false);
    }
  };
  field.onblur = () => void finish(true);
  title.replaceWith(field);
  field.select();
}

// Export and import (with the store): all chats or the one on screen as a download, and an
// export file sent back to sluice, which replaces the chats it has with the same ids.
async function importChosenFile() {
  const file = importFile.files?.[0];
  importFile.value = "";  // the same file can be chosen again
  if (!file) return;
  transferStatus.textContent = `importing ${file.name}…`;
  try {
    const count = await importConversations(call, file);
    transferStatus.textContent = `Imported ${count} chat${count === 1 ? "" : "s"}.`;
    await listConversations();
  } catch (error) {
    transferStatus.textContent = `Import failed: ${(error as Error).message}`;
  }
}

// --- rendering: only the message that grows is rendered again, at most once per frame ----------
// and of that message only its last markdown block (markdown_view.ts).

interface MessageView {
  root: HTMLElement;
  waiting: HTMLElement;  // before the first token: what Ollama is doing, and for how long
  thinking: HTMLDetailsElement;
  thinkingText: Text;  // grows by appending, like the reply
  body: HTMLElement;
  markdown: MarkdownView;
  error?: HTMLElement;
  stopped?: HTMLElement;
  stats: HTMLElement;
  actions: HTMLElement;
}

// The views of the current conversation's messages, kept so that showing the conversation again
// (a reply ends, a message is edited) renders nothing that is already on screen.
let views = new Map<Message, MessageView>();

function messageView(message: Message): MessageView {
  const root = document.createElement("article");
  root.className = `message ${message.role}`;
  const waiting = document.createElement("p");
  waiting.className = "waiting";
  waiting.hidden = true;
  waiting.setAttribute("aria-live", "off");  // a clock: not read out every second
  const thinking = document.createElement("details");
  thinking.hidden = true;
  const summary = document.createElement("summary");
  summary.textContent = "Thinking";
  const thinkingBox = document.createElement("div");
  thinkingBox.style.whiteSpace = "pre-wrap";
  const thinkingText = document.createTextNode("");
  thinkingBox.append(thinkingText);
  thinking.append(summary, thinkingBox);
  const body = document.createElement("div");
  body.className = "body";
  const markdown = new MarkdownView(addCopyButton);
  if (message.role === "assistant") body.append(markdown.element);
  const stats = document.createElement("div");
  stats.className = "stats";
  const actions = document.createElement("div");
  actions.className = "actions";
  root.append(waiting, thinking, body, stats, actions);
  return { root, waiting, thinking, thinkingText, body, markdown, stats, actions };
}

function fill(view: MessageView, message: Message, streaming: boolean) {
  if (message.role === "user") {
    view.body.textContent = message.content;
    if (message.images) view.body.prepend(imageStrip(message.images));
    return;
  }
  const waiting = streaming && !message.content && !message.thinking && !message.toolCalls && !message.error;
  if (view.waiting.hidden === waiting) view.waiting.hidden = !waiting;
  const inline = splitThinking(message.content);
  const thinking = (message.thinking ?? "") + inline.thinking;
  view.thinking.hidden = thinking.length === 0;
  view.thinking.open = streaming && !/\S/.test(inline.answer);
  (view.thinking.firstChild as HTMLElement).textContent = thinkingTitle(message.thinkingMs);
  if (thinking.startsWith(view.thinkingText.data)) view.thinkingText.appendData(thinking.slice(view.thinkingText.data.length));
  else view.thinkingText.data = thinking;  // text, never HTML
  view.markdown.update(inline.answer, !streaming, Boolean(message.stopped || message.error));
  showToolCalls(view.body, message.toolCalls);
  if (message.stopped && !view.stopped) {
    view.root.classList.add("stopped");
    view.stopped = document.createElement("p");
    view.stopped.className = "stopped-note";
    view.stopped.textContent = "Stopped: the reply is incomplete.";
    view.body.append(view.stopped);
  }
  if (message.error && !view.error) {
    view.error = document.createElement("p");
    view.error.className = "error";
    view.body.append(view.error);
  }
  if (view.error) view.error.textContent = message.error ?? "";
  view.stats.textContent = message.stats ? formatStats(message.stats) : "";
}

// A copy button on a finished code block (highlighting is done as it streams, in render.ts).
function addCopyButton(code: HTMLElement) {
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy";
  copy.textContent = "Copy";
  copy.onclick = async () => {
    if (await copyText(code.textContent ?? "")) {
      copy.textContent = "Copied";
    } else {
      getSelection()?.selectAllChildren(code);
      copy.textContent = "Selected: press Ctrl+C";
    }
  };
  code.parentElement?.prepend(copy);
}

// navigator.clipboard exists only in a secure context; over plain http from another device the
// older copy command on a hidden text field still works (it needs the click that called this).
async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard) return navigator.clipboard.writeText(text).then(() => true, () => false);
  const field = document.createElement("textarea");
  field.value = text;
  field.style.position = "fixed";
  field.style.opacity = "0";
  document.body.append(field);
  field.select();
  const copied = document.execCommand("copy");
  field.remove();
  return copied;
}

function actionButton(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = label;
  button.className = className;
  button.onclick = () => {
    if (changeable()) onClick();  // elsewhere, a streaming reply is stopped first (ask)
  };
  return button;
}

// "‹ 2/3 ›": which of its alternatives a message shows (an answer's versions, or the branches
// from a user message that was edited).
function alternativeButtons(message: Message, index: number): HTMLElement[] {
  const { at, count } = placeOf(message);
  if (count < 2) return [];
  const go = (to: number) => () => {
    current.messages = switchTo(current.messages, index, to);
    endEdit();  // the message being edited may be gone
    save(current);
    showAll();
  };
  const previous = actionButton("‹", "previous", go(at - 1));
  const next = actionButton("›", "next", go(at + 1));
  previous.disabled = at === 0;
  next.disabled = at === count - 1;
  previous.title = "previous version";
  next.title = "next version";
  const place = document.createElement("span");
  place.className = "place";
  place.textContent = `${at + 1}/${count}`;
  return [previous, place, next];
}

function showAll() {
  systemInput.value = current.system ?? "";
  systemInput.disabled = Boolean(store?.needsLoad(current));
  if (parameters.show(current.options)) void showPlan();
  const last = current.messages.length - 1;
  const shown = new Map<Message, MessageView>();
  const roots = current.messages.map((message, index) => {
    const view = views.get(message) ?? messageView(message);
    shown.set(message, view);
    fill(view, message, message === inFlight?.pending.message);
    const regenerable = index === last && message !== inFlight?.pending.message;  // not while it streams
    const actions = message.role === "user" ? [actionButton("Edit", "edit", () => editMessage(index))]
      : regenerable ? [actionButton("Regenerate", "regenerate", regenerate)] : [];
    view.actions.replaceChildren(...alternativeButtons(message, index), ...actions);
    return view.root;
  });
  views = shown;
  // Re-inserting views already in place would make the browser lay out the whole conversation again.
  const children = messagesView.children;
  if (roots.length !== children.length || roots.some((root, i) => children[i] !== root)) messagesView.replaceChildren(...roots);
  showConversations();
  showSaved();
  if (following) messagesView.scrollTop = messagesView.scrollHeight;
  jumpButton.hidden = following;
  showWaiting();
}

// Send or Stop, for the conversation on screen.
function showComposer() {
  const streamingHere = inFlight?.conversation === current;
  sendButton.hidden = streamingHere;
  stopButton.hidden = !streamingHere;
}

// --- following the stream ----------------------------------------------------------------------
// The view keeps to the newest text only while the reader is at the bottom. Scrolling up stops
// that, however little (a scroll that moved up and away from the bottom while the content did not
// shrink: a layout change or a taller window only moves the top along with the bottom), and
// "Jump to latest" appears; back at the bottom, by hand or by the button, it follows again. The
// measure is taken in the scroll event (at most once a frame); a frame that renders a token
// reads the layout once, to scroll, and only while following.

let following = true;
let lastScroll = { top: 0, height: 0, gap: 0 };

messagesView.addEventListener("scroll", () => {
  const { scrollTop: top, scrollHeight: height, clientHeight } = messagesView;
  const gap = height - top - clientHeight;  // how far the bottom is
  if (top < lastScroll.top - 1 && gap > lastScroll.gap + 1 && height >= lastScroll.height) following = false;
  else if (gap < 8) following = true;
  lastScroll = { top, height, gap };
  jumpButton.hidden = following;
}, { passive: true });

// A taller window (a phone's keyboard closing) can bring the bottom into view without a scroll.
new ResizeObserver(() => {
  if (following || messagesView.scrollHeight - messagesView.scrollTop - messagesView.clientHeight >= 8) return;
  following = true;
  jumpButton.hidden = true;
}).observe(messagesView);

jumpButton.addEventListener("click", () => {
  following = true;
  jumpButton.hidden = true;
  messagesView.scrollTop = messagesView.scrollHeight;
});

// --- the socket ---------------------------------------------------------------------------------

// `waiting`: the chat's place in sluice's line while every box with its model is busy (0: its turn came).
interface Frame { id: string; line?: any; done?: boolean; cancelled?: boolean; error?: string; rewrite?: string; backend?: string; waiting?: number }
// `phase`: before the first token, what the reply waits for; `model`: the one picked.
// `thinkingSince`: when the first thinking token came (the thinking's duration ends at the first answer token).
interface Pending { message: Message; model: string; sentAt: number; scheduled: boolean; phase: string; thinkingSince?: number }

let socket: WebSocket | undefined;
let inFlight: { id: string; conversation: Conversation; pending: Pending } | undefined;
let waitingTimer: ReturnType<typeof setInterval> | undefined;

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
    ws.onclose = (event) => {
      // 1009: the message was larger than sluice reads (limits.max_body_bytes): a chat with many images.
      const why = event.code === 1009 ? "sluice refused the message: it exceeds limits.max_body_bytes (attach less, or raise it)"
                                      : "connection to sluice lost";
      if (inFlight) end(inFlight.pending, why);
      socket = undefined;
    };
  });
}

function schedule(pending: Pending) {
  if (pending.scheduled) return;
  pending.scheduled = true;
  requestAnimationFrame(() => {
    pending.scheduled = false;
    const view = views.get(pending.message);
    if (!view) return;
    fill(view, pending.message, inFlight?.pending === pending);
    if (following) messagesView.scrollTop = messagesView.scrollHeight;
  });
}

// Until the first token: Ollama loads the model (when it is not in memory) and reads the prompt,
// which for a long conversation or a cold model takes seconds. Shown with its time, four times
// a second, by a timer (not per token).
function showWaiting() {
  const pending = inFlight?.pending;
  if (!pending || pending.message.stats?.ttftMs !== undefined || pending.message.error) {
    clearInterval(waitingTimer);
    waitingTimer = undefined;
    return;
  }
  waitingTimer ??= setInterval(showWaiting, 250);
  const view = views.get(pending.message);
  const text = `${pending.phase} · ${Math.floor((performance.now() - pending.sentAt) / 1000)} s`;
  if (view && view.waiting.textContent !== text) view.waiting.textContent = text;
}

// What the reply waits for once sent: the model (the one the rewriter runs) is loaded first
// unless /api/ps listed it.
const waitPhase = (picked: string) => {
  const model = runsAs.get(picked) ?? picked;
  return loadedModels?.has(model) ? `${model}: reading the prompt` : `loading ${model}, then reading the prompt`;
};

// 1 -> "1st", 2 -> "2nd", 3 -> "3rd", 11 -> "11th", 22 -> "22nd".
const ordinal = (n: number) => `${n}${n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] ?? "th"}`;

function onFrame(frame: Frame) {
  if (!inFlight || frame.id !== inFlight.id) return;
  const pending = inFlight.pending;
  const message = pending.message;
  if (frame.waiting !== undefined) {
    const model = runsAs.get(pending.model) ?? pending.model;
    pending.phase = frame.waiting > 0 ? `${ordinal(frame.waiting)} in line for ${model}` : waitPhase(pending.model);
    showWaiting();
    return;
  }
  if (frame.line) {
    const line = frame.line;
    if (line.error) message.error = String(line.error);
    const piece = line.message ?? {};
    if ((piece.content || piece.thinking || piece.tool_calls) && message.stats?.ttftMs === undefined) {
      message.stats = { ...message.stats, ttftMs: performance.now() - pending.sentAt };
      showWaiting();  // ends the timer
    }
    if (piece.thinking) pending.thinkingSince ??= performance.now();
    if (piece.content && pending.thinkingSince !== undefined) message.thinkingMs ??= performance.now() - pending.thinkingSince;
    if (piece.content) message.content += piece.content;
    if (piece.thinking) message.thinking = (message.thinking ?? "") + piece.thinking;
    if (piece.tool_calls) message.toolCalls = [...(message.toolCalls ?? []), ...piece.tool_calls];
    if (line.done && line.eval_count && line.eval_duration) {
      message.stats = {
        ...message.stats,
        evalCount: line.eval_count,
        promptCount: line.prompt_eval_count,
        loadMs: line.load_duration ? line.load_duration / 1e6 : undefined,
        tokensPerSecond: line.eval_count / (line.eval_duration / 1e9),
      };
    }
    schedule(pending);
    store?.save(inFlight.conversation, streamingSaveMs);
    return;
  }
  if (frame.rewrite) message.stats = { ...message.stats, rewrite: frame.rewrite };
  if (frame.backend) message.stats = { ...message.stats, backend: frame.backend };
  if (frame.error) end(pending, frame.error);
  else if (frame.done) end(pending, frame.cancelled ? "stopped" : undefined);
}

function end(pending: Pending, note?: string) {
  if (inFlight?.pending !== pending) return;
  const { conversation } = inFlight;
  if (note === "stopped") pending.message.stopped = true;
  else if (note) pending.message.error = note;
  inFlight = undefined;
  save(conversation);
  showAll();  // the last reply gets its Regenerate button
  showComposer();
  if (conversation !== current) {
    const where = `The reply in “${conversation.title}”`;
    showNotice(note === "stopped" ? `${where} was stopped.` : note ? `${where} failed: ${note}` : `${where} is complete.`);
  }
  // Also the session check: a refused upgrade (session ended) looks like any failed socket to
  // the page, and then /api/ps answers 401, which brings the login view.
  void loadRunning();
}

// Stops the streaming reply at once (sluice closes its Ollama stream; the end frame that follows
// is for an id no longer waited for). Returns whether there was one.
function stopInFlight(): boolean {
  if (!inFlight) return false;
  socket?.send(JSON.stringify({ id: inFlight.id, cancel: true }));
  end(inFlight.pending, "stopped");
  return true;
}

function send() {
  const text = input.value.trim();
  if ((!text && attachments.empty && !attachments.busy) || !changeable()) return;
  if (!modelSelect.value) {
    showNotice("No model to ask: the model list is empty.");
    return;
  }
  if (attachments.busy) {
    showNotice("The attachments are still being read: send again in a moment.");
    return;
  }
  input.value = "";
  const { content, images } = attachments.take(text);
  if (current.messages.length === 0) current.title = (content || "Image").slice(0, 40);
  if (editFrom !== undefined) current.messages = newBranch(current.messages, editFrom, content);
  else current.messages.push({ role: "user", content });
  if (images.length) current.messages[current.messages.length - 1].images = images;
  void ask();
}

function editMessage(index: number) {
  editFrom = index;
  input.value = current.messages[index].content;
  attachments.restore(current.messages[index].images);
  input.focus();
  statusLine.textContent = "editing: Enter resends from this message";
}

function endEdit() {
  editFrom = undefined;
  if (statusLine.textContent?.startsWith("editing")) statusLine.textContent = "";
}

// The last answer is asked for again; it stays, as an earlier version of the new one.
function regenerate() {
  const last = current.messages.pop();
  if (last) void ask(newVersion(last));
}

// Sends the conversation so far and streams the reply into `reply`, a new assistant message.
async function ask(reply: Message = { role: "assistant", content: "" }) {
  // One reply streams at a time: one in another chat is stopped, and the page says so.
  const elsewhere = inFlight?.conversation;
  showNotice(elsewhere && stopInFlight() ? `Stopped the reply in “${elsewhere.title}” to answer here.` : "");
  endEdit();
  const system = current.system ? [{ role: "system", content: current.system }] : [];
  const entry = (m: Message) => ({ role: m.role, content: m.content, ...(m.images && { images: m.images }) });
  const history = [...system, ...current.messages.map(entry)];
  const options = current.options && { options: current.options };
  const think = thinkSelect.value === "auto" ? {} : { think: thinkSelect.value === "on" };
  current.messages.push(reply);
  save(current);
  const id = newId();
  const model = modelSelect.value;
  const pending = { message: reply, model, sentAt: performance.now(), scheduled: false, phase: "connecting to sluice" };
  inFlight = { id, conversation: current, pending };
  following = true;
  showAll();
  showComposer();
  try {
    const ws = await connect();
    ws.send(JSON.stringify({ id, chat: { model, messages: history, stream: true, ...think, ...options } }));
    pending.phase = waitPhase(model);
    showWaiting();
  } catch (error) {
    end(pending, (error as Error).message);
  }
}

function stop() {
  if (inFlight && socket) socket.send(JSON.stringify({ id: inFlight.id, cancel: true }));
}

// --- the sidebar (a drawer at phone width) -----------------------------------------------------

function openSidebar() {
  document.body.classList.add("sidebar-open");
  menuButton.setAttribute("aria-expanded", "true");
  void listConversations();  // with chats from other devices
}

function closeSidebar() {
  document.body.classList.remove("sidebar-open");
  menuButton.setAttribute("aria-expanded", "false");
}

// --- sluice's HTTP API and the login -------------------------------------------------------------

// fetch, with sluice's error text (its JSON "error") and the status as the exception. A 401
// means a key is needed, or the session ended: the login view.
async function call(path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(path, init);
  if (response.status === 401) showLogin();
  if (!response.ok) throw Object.assign(new Error(await errorText(response)), { status: response.status });
  return response;
}

async function errorText(response: Response): Promise<string> {
  const body = await response.text();
  try {
    return (JSON.parse(body) as { error?: string }).error ?? `HTTP ${response.status}`;
  } catch {
    return body || `HTTP ${response.status}`;
  }
}

function showLogin() {
  if (document.body.classList.contains("locked")) return;
  socket?.close();
  modelSelect.replaceChildren();
  loadedLine.textContent = "";
  planLine.textContent = "";
  closeSidebar();
  document.body.classList.add("locked");
  loginError.textContent = "";
  loginKey.focus();
}

// The key is sent once and kept nowhere: sluice answers with an HttpOnly, SameSite=Strict cookie.
async function logIn() {
  const key = loginKey.value.trim();
  if (!key) return;
  loginError.textContent = "";
  try {
    const response = await fetch("/_sluice/login", { method: "POST", headers: { Authorization: `Bearer ${key}` } });
    if (!response.ok) throw new Error(await errorText(response));
  } catch (error) {
    loginError.textContent = (error as Error).message;
    loginKey.select();
    return;
  }
  loginKey.value = "";
  logoutButton.hidden = false;
  document.body.classList.remove("locked");
  void loadAccess();
  void loadModels();
  void loadRunning();
}

async function logOut() {
  await fetch("/_sluice/logout", { method: "POST" }).catch(() => {});
  logoutButton.hidden = true;
  showLogin();
}

// What the key the page is logged in with may do (/_sluice/api/me): Log out is offered when
// there is a key, Pull only to a key that may pull. Until it answers, the page offers everything
// and sluice still refuses what the key may not do. It also says whether sluice keeps the chats.
let may: Record<string, boolean> = {};

async function loadAccess() {
  try {
    const me = (await (await call("/_sluice/api/me")).json()) as
      { key: string | null; routes: Record<string, boolean>; doctor: boolean; store?: boolean };
    may = me.routes;
    logoutButton.hidden = me.key === null;
    pullForm.hidden = !may["/api/pull"];
    modelsPanel.allowDelete(may["/api/delete"] === true);
    doctorBox.hidden = !me.doctor;
    modelsPanel.allowTuning(me.doctor);
    if (me.store) void useStore(me.key);
  } catch {
    // A 401 has shown the login view; anything else leaves the page as it is.
  }
}

// --- attachments and the chat's parameters (attachments.ts, parameters.ts) ----------------------

const attachments = new Attachments({ composer: $("composer"), input, strip: $("attached"), button: $("attach"), picker: $("attach-file") },
                                    showNotice);
// The options are the chat's: kept with it and sent with its requests; the plan follows them.
const parameters = new ParametersPanel($("parameters-box"), (options) => {
  current.options = Object.keys(options).length ? options : undefined;
  save(current);
  void showPlan();
});

// --- models -------------------------------------------------------------------------------------

interface Tag { name: string; size?: number; details?: { quantization_level?: string }; capabilities?: string[] }

const modelsPanel = new ModelsPanel($("models"), call, () => void loadModels(), showNotice);
let capabilitiesOfListed = new Map<string, string[] | undefined>();
// Images are offered to a model with vision only.
const offerImages = () => attachments.offerImages(capabilitiesOfListed.get(modelSelect.value)?.includes("vision") ?? false);

// What a model can do: /api/tags says from Ollama 0.9.1 on; before, its /api/show does.
async function capabilitiesOf(model: Tag): Promise<string[] | undefined> {
  if (model.capabilities || may["/api/show"] === false) return model.capabilities;
  try {
    const response = await call("/api/show", { method: "POST", body: JSON.stringify({ model: model.name }) });
    return ((await response.json()) as { capabilities?: string[] }).capabilities;
  } catch {
    return undefined;
  }
}

// Embedding-only models (nomic-embed-text) answer a chat with an error: the picker leaves them out.
const canChat = (capabilities?: string[]) =>
  !capabilities || capabilities.includes("completion") || !capabilities.includes("embedding");

// When the list cannot be had (Ollama down: sluice answers 502), it is asked for again, after 1,
// 2, 4 ... up to 30 seconds, and at once when the device is back online.
let modelsRetry: ReturnType<typeof setTimeout> | undefined;
let modelsRetryMs = 1000;

async function loadModels() {
  clearTimeout(modelsRetry);
  modelsRetry = undefined;
  try {
    const response = await call("/api/tags");
    const tags = (await response.json()) as { models?: Tag[] };
    const listed = tags.models ?? [];
    const capabilities = await Promise.all(listed.map(capabilitiesOf));
    capabilitiesOfListed = new Map(listed.map((model, i) => [model.name, capabilities[i]]));
    modelsPanel.show(listed.map((model, i) => ({ name: model.name, capabilities: capabilities[i] })));
    const models = listed.filter((_, i) => canChat(capabilities[i]));
    modelSelect.replaceChildren(
      ...models.map((model) => {
        const option = document.createElement("option");
        option.value = model.name;
        const size = model.size ? ` · ${(model.size / 1e9).toFixed(1)} GB` : "";
        const quantization = model.details?.quantization_level ? ` · ${model.details.quantization_level}` : "";
        const marks = badges(capabilitiesOfListed.get(model.name)).map((mark) => ` · ${mark}`).join("");
        option.textContent = `${model.name}${size}${quantization}${marks}`;
        return option;
      }),
    );
    const saved = localStorage.getItem("sluice.model");
    if (saved && models.some((m) => m.name === saved)) modelSelect.value = saved;
    offerImages();
    statusLine.textContent = models.length ? "" : listed.length ? "no chat models installed" : "no models installed";
    void showPlan();
    performance.mark("sluice:models-listed");  // the e2e test's time to interactive
    if (modelsRetryMs > 1000) void loadRunning();  // Ollama is back
    modelsRetryMs = 1000;
  } catch (error) {
    if (document.body.classList.contains("locked")) return;  // a login is needed, not a retry
    statusLine.textContent = `cannot list models: ${(error as Error).message} (trying again in ${modelsRetryMs / 1000} s)`;
    modelsRetry = setTimeout(() => void loadModels(), modelsRetryMs);
    modelsRetryMs = Math.min(modelsRetryMs * 2, 30000);
  }
}

// What sluice's rewriter will run for the picked model with the chat's options
// (/_sluice/api/explain), shown next to the picker and in the Parameters panel: another variant of
// it ("runs qwen3:14b-q8_0"), the context, thinking; the reasons on hover.
const runsAs = new Map<string, string>();  // picked model -> the model the rewriter runs

async function showPlan() {
  const model = modelSelect.value;
  const options = current.options;
  planLine.textContent = "";
  planLine.title = "";
  parameters.showPlan("");
  if (!model) return;
  try {
    const plan = await explain(call, model, options);
    runsAs.set(model, plan.model);
    if (modelSelect.value !== model || current.options !== options) return;  // another pick or other options meanwhile
    planLine.textContent = planText(plan, model);
    planLine.title = plan.reasons.join("\n");
    parameters.showPlan(planLine.textContent);
  } catch {
    // Shown only when known: the chat works the same without it.
  }
}

// What Ollama has in memory now (/api/ps), shown next to the picker.
let loadedModels: Set<string> | undefined;

async function loadRunning() {
  try {
    const response = await call("/api/ps");
    const ps = (await response.json()) as { models?: { name: string; model?: string; size_vram?: number }[] };
    loadedModels = new Set((ps.models ?? []).flatMap((m) => [m.name, m.model ?? m.name]));
    const running = (ps.models ?? []).map((m) => `${m.name}${m.size_vram ? ` (${(m.size_vram / 1e9).toFixed(1)} GB VRAM)` : ""}`);
    loadedLine.textContent = running.length ? `loaded: ${running.join(", ")}` : "nothing loaded";
  } catch {
    loadedLine.textContent = "";
    loadedModels = undefined;
  }
}

// The tuning check: what `sluice doctor` finds, asked for each time the panel opens, those that
// cost tokens/s first (findings.ts).
async function loadDoctor() {
  doctorList.replaceChildren(findingItem(undefined, "checking…"));
  try {
    doctorList.replaceChildren(...findingItems(await fetchFindings(call)));
  } catch (error) {
    doctorList.replaceChildren(findingItem(undefined, `cannot check: ${(error as Error).message}`));
  }
}

// --- wiring -------------------------------------------------------------------------------------

$<HTMLFormElement>("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
// Enter while an input method is composing (Chinese, Japanese) confirms the composition. On a
// touch screen's keyboard Enter is a new line and the Send button sends (there is no Shift to
// hold); Ctrl+Enter sends everywhere.
const composing = (event: KeyboardEvent) => event.isComposing || event.keyCode === 229;
const touchFirst = matchMedia("(pointer: coarse)");
const showEnterKey = () => {
  input.placeholder = touchFirst.matches ? "Message (Send sends, Enter new line)" : "Message (Enter sends, Shift+Enter new line)";
  input.enterKeyHint = touchFirst.matches ? "enter" : "send";
};
showEnterKey();
touchFirst.addEventListener("change", showEnterKey);
input.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || composing(event)) return;
  if (touchFirst.matches && !event.ctrlKey && !event.metaKey) return;
  event.preventDefault();
  send();
});
$<HTMLFormElement>("login").addEventListener("submit", (event) => {
  event.preventDefault();
  void logIn();
});
loginKey.addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();  // no implicit form submission either, while composing
  if (!composing(event)) void logIn();
});
logoutButton.addEventListener("click", () => void logOut());
stopButton.addEventListener("click", stop);
systemInput.addEventListener("input", () => {
  current.system = systemInput.value;
  save(current);
});
thinkSelect.value = localStorage.getItem("sluice.think") ?? "auto";
thinkSelect.addEventListener("change", () => localStorage.setItem("sluice.think", thinkSelect.value));
searchInput.addEventListener("input", onSearchInput);
menuButton.addEventListener("click", () => (document.body.classList.contains("sidebar-open") ? closeSidebar() : openSidebar()));
// The open drawer closes on a tap outside it (on the shade over the chat) and on Escape.
// (The path as it was when the click happened: a click in the list may have re-rendered it.)
document.addEventListener("click", (event) => {
  const path = event.composedPath();
  if (document.body.classList.contains("sidebar-open") && !path.includes(sidebar) && !path.includes(menuButton)) closeSidebar();
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape" || !document.body.classList.contains("sidebar-open")) return;
  closeSidebar();
  if (getComputedStyle(menuButton).display !== "none") menuButton.focus();
});
doctorBox.addEventListener("toggle", () => {
  if (doctorBox.open) void loadDoctor();
});
pullForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $<HTMLInputElement>("pull-name").value.trim();
  const ui = { progress: $<HTMLProgressElement>("pull-progress"), status: $("pull-status"), cancel: $<HTMLButtonElement>("pull-cancel") };
  if (name) void pullModel(name, call, { ...ui, pulled: loadModels });
});
modelSelect.addEventListener("change", () => {
  localStorage.setItem("sluice.model", modelSelect.value);
  offerImages();
  void showPlan();
});
$<HTMLButtonElement>("new-chat").addEventListener("click", () => {
  closeSidebar();
  // An empty chat is used again (moved to the top) rather than left behind by another one.
  const empty = conversations.find((c) => isBlank(c) && c !== inFlight?.conversation);
  if (empty) conversations = [empty, ...conversations.filter((c) => c !== empty)];
  select(empty ?? newConversation());
  save(current);
});
$<HTMLAnchorElement>("export-all").href = exportAllPath;
importFile.addEventListener("change", () => void importChosenFile());
window.addEventListener("online", () => {
  if (modelsRetry !== undefined) void loadModels();
  store?.saveNow();
});
// Chats made on other devices appear when the page is looked at again.
window.addEventListener("focus", () => void listConversations());
// A page in the background may be closed without notice (a phone's browser): its changes go now.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "hidden") store?.saveNow();
});

showAll();
void loadAccess();
void loadModels();
void loadRunning();
// While the page is idle, KaTeX is fetched and the renderers warmed up, so that the first reply's
// first frames need not wait for either.
(window.requestIdleCallback ?? ((run: () => void) => setTimeout(run, 1000)))(() => void loadMath().then(warmUp));
