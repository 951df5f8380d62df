// store: the chats in sluice's conversation store (/_sluice/api/conversations), used when sluice
// has one (/_sluice/api/me answers "store": true). The sidebar lists them a page at a time and a
// chat is loaded when opened. A change is PUT shortly after it is made, one request at a time per
// chat, so that the latest state is the one that stays; a PUT that fails is tried again later,
// and until the store has a chat its document waits in localStorage too, so that neither a
// network down nor a reload loses what was written.
import type { Conversation } from "./conversation";

// The page's fetch: throws sluice's error text, with the HTTP status.
export type Call = (path: string, init?: RequestInit) => Promise<Response>;

interface Summary { id: string; title: string; updated: number }
export interface Listing { conversations: Conversation[]; next: string | null }

const api = "/_sluice/api";
const conversationPath = (id: string) => `${api}/conversations/${encodeURIComponent(id)}`;
export const exportAllPath = `${api}/export`;
export const exportPath = (id: string, format: "json" | "markdown") => `${conversationPath(id)}/export?format=${format}`;
const asJson = { "Content-Type": "application/json" };
const firstRetryMs = 2000;
const pageSize = 50;

// An envelope of sluice's export (what /_sluice/api/import takes) → how many chats it imported.
export async function importConversations(call: Call, envelope: Blob | string): Promise<number> {
  const response = await call(`${api}/import`, { method: "POST", headers: asJson, body: envelope });
  return ((await response.json()) as { imported: number }).imported;
}

// The chats this browser kept before sluice had a store go there, once: the localStorage key is
// renamed when sluice has taken them all, and left as it is when not (the error is thrown).
export async function importLocal(call: Call, key: string) {
  const kept = localStorage.getItem(key);
  if (kept === null) return;
  const conversations = JSON.parse(kept) as Conversation[];
  const now = Date.now();  // the list's order (newest first) as their times
  const entries = conversations.map((conversation, i) => ({ created: now - i, updated: now - i, conversation }));
  if (entries.length) await importConversations(call, JSON.stringify({ sluice_conversations: 1, conversations: entries }));
  localStorage.setItem(`${key}.imported`, kept);
  localStorage.removeItem(key);
}

// A chat the store does not have as it is: the next request's timer, the one under way.
interface Sync {
  conversation: Conversation;
  timer?: ReturnType<typeof setTimeout>;
  due: number;
  busy: boolean;     // a PUT or DELETE is under way: the next one waits for its end
  changed: boolean;  // since the last PUT was sent
  deleted: boolean;
  error?: string;    // why the last request failed
  retryMs: number;
}

export interface StoreEvents {
  inUse(conversation: Conversation): boolean;  // a reply streams into it: never replaced by the stored one
  trouble(conversation: Conversation, deleting: boolean): void;  // a request failed, or succeeded after failing
}

export class Store {
  private readonly known = new Map<string, Conversation>();  // one object per chat, by id
  private readonly stubs = new WeakSet<Conversation>();  // known by their summary only, or changed elsewhere since
  private readonly updated = new Map<string, number>();  // the store's "updated" as last seen: the chats it has
  private readonly syncs = new Map<string, Sync>();
  private closed = false;

  // `key`: the name of the API key (null when sluice wants none). What waits in localStorage is
  // kept per key, so that it is saved only for the key it belongs to.
  constructor(private readonly key: string | null, private readonly call: Call, private readonly events: StoreEvents) {}

  private unsavedKey(id: string) {
    return `sluice.unsaved:${encodeURIComponent(this.key ?? "")}:${id}`;
  }

  // The newest chats (`before`: the cursor for the next page).
  list(before?: string | null): Promise<Listing> {
    return this.listing({ limit: String(pageSize), ...(before ? { before } : {}) });
  }

  // The chats whose title or messages have `words` (sluice's full-text search).
  async search(words: string): Promise<Conversation[]> {
    return (await this.listing({ q: words })).conversations;
  }

  private async listing(query: Record<string, string>): Promise<Listing> {
    const response = await this.call(`${api}/conversations?${new URLSearchParams(query)}`);
    const page = (await response.json()) as { conversations: Summary[]; next: string | null };
    const listed = page.conversations.filter((summary) => !this.syncs.get(summary.id)?.deleted);
    return { conversations: listed.map((summary) => this.objectFor(summary)), next: page.next };
  }

  // The page's object for a listed chat: the one it has (to be loaded again if it changed
  // elsewhere and has no change of the page's own), or one that is loaded when first opened.
  private objectFor({ id, title, updated }: Summary): Conversation {
    let conversation = this.known.get(id);
    if (!conversation) {
      conversation = { id, title, messages: [] };
      this.known.set(id, conversation);
      this.stubs.add(conversation);
    } else if (this.updated.get(id) !== updated && !this.syncs.has(id) && !this.events.inUse(conversation)) {
      conversation.title = title;
      this.stubs.add(conversation);
    }
    this.updated.set(id, updated);
    return conversation;
  }

  // A chat the page has whole already (from this browser's localStorage).
  hold(conversation: Conversation) {
    this.known.set(conversation.id, conversation);
  }

  needsLoad(conversation: Conversation): boolean {
    return this.stubs.has(conversation);
  }

  // Fills in a listed chat's document, in place: the page holds this object (in the list, on screen).
  async load(conversation: Conversation) {
    const saved = (await (await this.call(conversationPath(conversation.id))).json()) as Conversation;
    if (!this.stubs.has(conversation)) return;  // loaded meanwhile
    for (const field of Object.keys(conversation)) Reflect.deleteProperty(conversation, field);
    Object.assign(conversation, { messages: [] }, saved);  // (an imported file's chat may have none)
    this.stubs.delete(conversation);
  }

  // Whether a change of `conversation` has yet to reach the store.
  pending(conversation: Conversation): boolean {
    const sync = this.syncs.get(conversation.id);
    return sync !== undefined && !sync.deleted;
  }

  // Why the store does not have `conversation` as it is, when a request for it failed.
  unsavedError(conversation: Conversation): string | undefined {
    return this.syncs.get(conversation.id)?.error;
  }

  // `conversation` changed: it is PUT in `delayMs`, or sooner when that was due already.
  save(conversation: Conversation, delayMs = 500) {
    // Never a chat not loaded (it would replace the stored one), nor a blank one the store never had.
    if (this.stubs.has(conversation) || (!this.stored(conversation) && !conversation.messages.length && !conversation.system)) return;
    const sync = this.syncOf(conversation);
    sync.changed = true;
    this.schedule(sync, delayMs);
  }

  remove(conversation: Conversation) {
    const sync = this.syncOf(conversation);
    this.known.delete(conversation.id);
    localStorage.removeItem(this.unsavedKey(conversation.id));
    if (!this.stored(conversation) && !sync.busy) {
      this.drop(sync);
      return;
    }
    sync.deleted = true;
    this.schedule(sync, 0);
  }

  // Every chat not saved yet is sent now: the device is back online, or the page is being left.
  saveNow() {
    for (const sync of this.syncs.values()) {
      sync.retryMs = firstRetryMs;
      this.schedule(sync, 0);
    }
  }

  // What was not saved when the page was last left: it is PUT again, as the newest state.
  restoreUnsaved(): Conversation[] {
    const prefix = this.unsavedKey("");
    return Object.keys(localStorage).filter((key) => key.startsWith(prefix)).map((key) => {
      const conversation = JSON.parse(localStorage.getItem(key) ?? "null") as Conversation;
      this.known.set(conversation.id, conversation);
      this.save(conversation, 0);
      return conversation;
    });
  }

  // Another key logged in: what this one has not saved waits in localStorage for its return.
  close() {
    this.closed = true;
    for (const sync of this.syncs.values()) {
      clearTimeout(sync.timer);
      if (!sync.deleted) this.keepLocally(sync.conversation.id, JSON.stringify(sync.conversation));
    }
  }

  private stored(conversation: Conversation): boolean {
    return this.updated.has(conversation.id);
  }

  private syncOf(conversation: Conversation): Sync {
    let sync = this.syncs.get(conversation.id);
    if (!sync) {
      sync = { conversation, due: 0, busy: false, changed: false, deleted: false, retryMs: firstRetryMs };
      this.syncs.set(conversation.id, sync);
      this.known.set(conversation.id, conversation);
    }
    return sync;
  }

  private drop(sync: Sync) {
    clearTimeout(sync.timer);
    this.syncs.delete(sync.conversation.id);
  }

  private schedule(sync: Sync, delayMs: number) {
    const due = Date.now() + delayMs;
    if (this.closed || (sync.timer !== undefined && sync.due <= due)) return;
    clearTimeout(sync.timer);
    sync.due = due;
    sync.timer = setTimeout(() => {
      sync.timer = undefined;
      void this.send(sync);
    }, delayMs);
  }

  // A full localStorage must not stop the saving to sluice: then only a reload can lose the tail.
  private keepLocally(id: string, body: string) {
    try {
      localStorage.setItem(this.unsavedKey(id), body);
    } catch {
      // (QuotaExceededError)
    }
  }

  private async send(sync: Sync) {
    if (sync.busy) return;  // its end sends what changed meanwhile
    sync.busy = true;
    const { id } = sync.conversation;
    const failedBefore = sync.error !== undefined;
    try {
      if (sync.deleted) {
        await this.call(conversationPath(id), { method: "DELETE" }).catch((error: { status?: number }) => {
          if (error.status !== 404) throw error;  // (not there: what a DELETE wants)
        });
        this.updated.delete(id);
      } else {
        sync.changed = false;
        const body = JSON.stringify(sync.conversation);
        this.keepLocally(id, body);
        const response = await this.call(conversationPath(id), { method: "PUT", headers: asJson, body });
        this.updated.set(id, ((await response.json()) as { updated: number }).updated);
      }
      sync.error = undefined;
      sync.retryMs = firstRetryMs;
    } catch (error) {
      sync.error = (error as Error).message;
      if (!sync.deleted) sync.changed = true;  // to be sent again
      this.schedule(sync, sync.retryMs);
      sync.retryMs = Math.min(sync.retryMs * 2, 30000);
    } finally {
      sync.busy = false;
    }
    if (failedBefore !== (sync.error !== undefined)) this.events.trouble(sync.conversation, sync.deleted);
    if (sync.error !== undefined) return;
    if (sync.deleted ? this.stored(sync.conversation) : sync.changed) {
      // Deleted or changed while this request was under way: sent now, unless a timer waits already.
      if (sync.timer === undefined) this.schedule(sync, 0);
    } else {
      this.drop(sync);
      if (!sync.deleted) localStorage.removeItem(this.unsavedKey(id));
    }
  }
}
