// main: the chat page. Talks to sluice over /_sluice/ws (one frame per Ollama NDJSON line,
// tagged with the chat's id) and to Ollama's plain HTTP API through sluice for /api/tags,
// /api/ps and /api/pull. When sluice wants an API key (a 401), the page shows a login view; the
// key is sent once to /_sluice/login and the page then rides on an HttpOnly session cookie.
import "./style.css";
import { MarkdownView, warmUp } from "./markdown_view";
import { loadMath } from "./math";
import { formatStats, splitThinking, type Stats } from "./render";

interface Message { role: "user" | "assistant"; content: string; thinking?: string; stats?: Stats; error?: string }
interface Conversation { id: string; title: string; system?: string; messages: Message[] }

// An id for a chat or a request. Not crypto.randomUUID: that exists only in a secure context
// (https or localhost), and the page is also opened over plain http from other devices.
const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");

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
const loginKey = $<HTMLInputElement>("login-key");
const loginError = $<HTMLParagraphElement>("login-error");
const logoutButton = $<HTMLButtonElement>("logout");

// --- conversations, kept in localStorage -------------------------------------------------------

const storageKey = "sluice.conversations";
let conversations: Conversation[] = JSON.parse(localStorage.getItem(storageKey) ?? "[]");
let current: Conversation = conversations[0] ?? newConversation();
let editFrom: number | undefined;  // the user message being edited: it and all after it are replaced

function newConversation(): Conversation {
  const conversation = { id: newId(), title: "New chat", messages: [] };
  conversations.unshift(conversation);
  return conversation;
}

function select(conversation: Conversation) {
  current = conversation;
  editFrom = undefined;
  views = new Map();
  showAll();
}

function save() {
  localStorage.setItem(storageKey, JSON.stringify(conversations));
}

function matches(conversation: Conversation, query: string): boolean {
  const text = (s: string) => s.toLowerCase().includes(query);
  return text(conversation.title) || conversation.messages.some((m) => text(m.content));
}

function showConversations() {
  const query = searchInput.value.trim().toLowerCase();
  conversationList.replaceChildren(
    ...conversations.filter((c) => !query || matches(c, query)).map((conversation) => {
      const item = document.createElement("li");
      item.classList.toggle("active", conversation === current);
      const title = document.createElement("span");
      title.textContent = conversation.title;
      title.onclick = () => {
        if (inFlight) return;
        document.body.classList.remove("sidebar-open");
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
        if (inFlight && conversation === current) return;
        conversations = conversations.filter((c) => c !== conversation);
        save();
        select(conversation === current ? (conversations[0] ?? newConversation()) : current);
      };
      item.append(title, rename, remove);
      return item;
    }),
  );
}

// The title becomes a text field; Enter or leaving it keeps the new name, Escape the old one.
function renameInPlace(conversation: Conversation, title: HTMLElement) {
  const field = document.createElement("input");
  field.value = conversation.title;
  field.className = "rename-field";
  let done = false;
  const finish = (keep: boolean) => {
    if (done) return;
    done = true;
    if (keep && field.value.trim()) conversation.title = field.value.trim();
    save();
    showConversations();
  };
  field.onkeydown = (event) => {
    if (event.key === "Enter") finish(true);
    if (event.key === "Escape") finish(false);
  };
  field.onblur = () => finish(true);
  title.replaceWith(field);
  field.select();
}

// --- rendering: only the message that grows is rendered again, at most once per frame ----------
// and of that message only its last markdown block (markdown_view.ts).

interface MessageView {
  root: HTMLElement;
  thinking: HTMLDetailsElement;
  thinkingText: Text;  // grows by appending, like the reply
  body: HTMLElement;
  markdown: MarkdownView;
  error?: HTMLElement;
  stats: HTMLElement;
  actions: HTMLElement;
}

// The views of the current conversation's messages, kept so that showing the conversation again
// (a reply ends, a message is edited) renders nothing that is already on screen.
let views = new Map<Message, MessageView>();

function messageView(message: Message): MessageView {
  const root = document.createElement("article");
  root.className = `message ${message.role}`;
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
  root.append(thinking, body, stats, actions);
  return { root, thinking, thinkingText, body, markdown, stats, actions };
}

function fill(view: MessageView, message: Message, streaming: boolean) {
  if (message.role === "user") {
    view.body.textContent = message.content;
    return;
  }
  const inline = splitThinking(message.content);
  const thinking = (message.thinking ?? "") + inline.thinking;
  view.thinking.hidden = thinking.length === 0;
  view.thinking.open = streaming && !/\S/.test(inline.answer);
  if (thinking.startsWith(view.thinkingText.data)) view.thinkingText.appendData(thinking.slice(view.thinkingText.data.length));
  else view.thinkingText.data = thinking;  // text, never HTML
  view.markdown.update(inline.answer, !streaming);
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
    if (!inFlight) onClick();
  };
  return button;
}

function showAll() {
  systemInput.value = current.system ?? "";
  const last = current.messages.length - 1;
  const shown = new Map<Message, MessageView>();
  const roots = current.messages.map((message, index) => {
    const view = views.get(message) ?? messageView(message);
    shown.set(message, view);
    fill(view, message, message === inFlight?.pending.message);
    if (message.role === "user") view.actions.replaceChildren(actionButton("Edit", "edit", () => editMessage(index)));
    else view.actions.replaceChildren(...(index === last ? [actionButton("Regenerate", "regenerate", regenerate)] : []));
    return view.root;
  });
  views = shown;
  // Re-inserting views already in place would make the browser lay out the whole conversation again.
  const children = messagesView.children;
  if (roots.length !== children.length || roots.some((root, i) => children[i] !== root)) messagesView.replaceChildren(...roots);
  showConversations();
  messagesView.scrollTop = messagesView.scrollHeight;
}

// --- the socket ---------------------------------------------------------------------------------

interface Frame { id: string; line?: any; done?: boolean; cancelled?: boolean; error?: string; rewrite?: string }
interface Pending { message: Message; sentAt: number; scheduled: boolean }

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
    const view = views.get(pending.message);
    if (!view) return;
    fill(view, pending.message, inFlight?.pending === pending);
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
        loadMs: line.load_duration ? line.load_duration / 1e6 : undefined,
        tokensPerSecond: line.eval_count / (line.eval_duration / 1e9),
      };
    }
    schedule(pending);
    return;
  }
  if (frame.rewrite) message.stats = { ...message.stats, rewrite: frame.rewrite };
  if (frame.error) end(pending, frame.error);
  else if (frame.done) end(pending, frame.cancelled ? "stopped" : undefined);
}

function end(pending: Pending, note?: string) {
  if (note && note !== "stopped") pending.message.error = note;
  inFlight = undefined;
  sendButton.hidden = false;
  stopButton.hidden = true;
  save();
  showAll();  // the last reply gets its Regenerate button
  // Also the session check: a refused upgrade (session ended) looks like any failed socket to
  // the page, and then /api/ps answers 401, which brings the login view.
  void loadRunning();
}

function send() {
  const text = input.value.trim();
  if (!text || inFlight || !modelSelect.value) return;
  input.value = "";
  if (editFrom !== undefined) current.messages.splice(editFrom);
  editFrom = undefined;
  if (current.messages.length === 0) current.title = text.slice(0, 40);
  current.messages.push({ role: "user", content: text });
  void ask();
}

function editMessage(index: number) {
  editFrom = index;
  input.value = current.messages[index].content;
  input.focus();
  statusLine.textContent = "editing: Enter resends from this message";
}

function regenerate() {
  if (current.messages.at(-1)?.role === "assistant") current.messages.pop();
  void ask();
}

// Sends the conversation so far and streams the reply into a new assistant message.
async function ask() {
  statusLine.textContent = "";
  const system = current.system ? [{ role: "system", content: current.system }] : [];
  const history = [...system, ...current.messages.map((m) => ({ role: m.role, content: m.content }))];
  const think = thinkSelect.value === "auto" ? {} : { think: thinkSelect.value === "on" };
  const reply: Message = { role: "assistant", content: "" };
  current.messages.push(reply);
  save();
  const id = newId();
  inFlight = { id, pending: { message: reply, sentAt: performance.now(), scheduled: false } };
  showAll();
  sendButton.hidden = true;
  stopButton.hidden = false;
  try {
    const ws = await connect();
    ws.send(JSON.stringify({ id, chat: { model: modelSelect.value, messages: history, stream: true, ...think } }));
  } catch (error) {
    end(inFlight.pending, (error as Error).message);
  }
}

function stop() {
  if (inFlight && socket) socket.send(JSON.stringify({ id: inFlight.id, cancel: true }));
}

// --- sluice's HTTP API and the login -------------------------------------------------------------

// fetch, with sluice's error text (its JSON "error") as the exception. A 401 means a key is
// needed, or the session ended: the login view.
async function call(path: string, init?: RequestInit): Promise<Response> {
  const response = await fetch(path, init);
  if (response.status === 401) showLogin();
  if (!response.ok) throw new Error(await errorText(response));
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
  document.body.classList.remove("sidebar-open");
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
  void loadModels();
  void loadRunning();
}

async function logOut() {
  await fetch("/_sluice/logout", { method: "POST" }).catch(() => {});
  logoutButton.hidden = true;
  showLogin();
}

// --- models -------------------------------------------------------------------------------------

async function loadModels() {
  try {
    const response = await call("/api/tags");
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
    performance.mark("sluice:models-listed");  // the e2e test's time to interactive
  } catch (error) {
    statusLine.textContent = `cannot list models: ${(error as Error).message}`;
  }
}

// What Ollama has in memory now (/api/ps), shown next to the picker.
async function loadRunning() {
  try {
    const response = await call("/api/ps");
    const ps = (await response.json()) as { models?: { name: string; size_vram?: number }[] };
    const running = (ps.models ?? []).map((m) => `${m.name}${m.size_vram ? ` (${(m.size_vram / 1e9).toFixed(1)} GB VRAM)` : ""}`);
    loadedLine.textContent = running.length ? `loaded: ${running.join(", ")}` : "nothing loaded";
  } catch {
    loadedLine.textContent = "";
  }
}

// /api/pull streams NDJSON progress: {"status","total","completed"} lines, "success" at the end.
async function pull(name: string) {
  const progress = $<HTMLProgressElement>("pull-progress");
  const status = $<HTMLDivElement>("pull-status");
  progress.hidden = false;
  progress.value = 0;
  status.textContent = `pulling ${name}`;
  try {
    const response = await call("/api/pull", { method: "POST", body: JSON.stringify({ model: name, stream: true }) });
    if (!response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffered += chunk.value;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines.filter((l) => l.trim())) {
        const update = JSON.parse(line) as { status?: string; error?: string; total?: number; completed?: number };
        if (update.error) throw new Error(update.error);
        if (update.total) progress.value = (update.completed ?? 0) / update.total;
        status.textContent = update.status ?? "";
      }
    }
    if (status.textContent === "success") {
      progress.value = 1;
      await loadModels();
    }
  } catch (error) {
    status.textContent = `pull failed: ${(error as Error).message}`;
  }
}

// --- wiring -------------------------------------------------------------------------------------

$<HTMLFormElement>("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
// Enter while an input method is composing (Chinese, Japanese) confirms the composition.
const composing = (event: KeyboardEvent) => event.isComposing || event.keyCode === 229;
input.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || composing(event)) return;
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
  save();
});
thinkSelect.value = localStorage.getItem("sluice.think") ?? "auto";
thinkSelect.addEventListener("change", () => localStorage.setItem("sluice.think", thinkSelect.value));
searchInput.addEventListener("input", showConversations);
$<HTMLButtonElement>("menu").addEventListener("click", () => document.body.classList.toggle("sidebar-open"));
$<HTMLFormElement>("pull").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $<HTMLInputElement>("pull-name").value.trim();
  if (name) void pull(name);
});
modelSelect.addEventListener("change", () => localStorage.setItem("sluice.model", modelSelect.value));
$<HTMLButtonElement>("new-chat").addEventListener("click", () => {
  if (inFlight) return;
  select(current.messages.length === 0 ? current : newConversation());
  save();
});

showAll();
void loadModels();
void loadRunning();
// While the page is idle, KaTeX is fetched and the renderers warmed up, so that the first reply's
// first frames need not wait for either.
(window.requestIdleCallback ?? ((run: () => void) => setTimeout(run, 1000)))(() => void loadMath().then(warmUp));
// Whether sluice wants a key at all (asked without the cookie): then the page offers Log out.
void fetch("/api/version", { credentials: "omit" }).then((response) => (logoutButton.hidden = response.status !== 401), () => {});
