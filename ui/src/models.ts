// models: model management in the sidebar. The Models panel lists every installed model with
// what it can do, its card from /api/show on demand (with the tuning check's findings for that
// model, for a key that may see them), and Delete (DELETE /api/delete, for a key that may); the
// Pull form streams /api/pull's progress with size and speed, and can be cancelled.
import { fetchFindings, findingItem, findingItems } from "./findings";
import type { Call } from "./store";

export interface Model { name: string; capabilities?: string[] }

// The capabilities worth a mark beside a model's name (Ollama lists "completion" for every chat model).
const marked = ["vision", "thinking", "tools", "embedding"];
export const badges = (capabilities?: string[]) => marked.filter((c) => capabilities?.includes(c));

const megabytes = (bytes: number) => bytes / 1e6;
const size = (bytes: number) => (bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${megabytes(bytes).toFixed(0)} MB`);

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  made.className = className;
  made.textContent = text;
  return made;
}

// The Models panel: `list` is its <ul>; Delete buttons are drawn only while the list has the
// class "may-delete" (set once /_sluice/api/me has answered). `deleted` reloads the model list;
// `notify` shows a failure.
export class ModelsPanel {
  private tuning = false;

  constructor(private readonly list: HTMLUListElement, private readonly call: Call,
              private readonly deleted: () => void, private readonly notify: (text: string) => void) {}

  show(models: Model[]) {
    this.list.replaceChildren(...models.map((model) => this.item(model)));
  }

  allowDelete(allowed: boolean) {
    this.list.classList.toggle("may-delete", allowed);
  }

  // Whether cards show the tuning check's findings (/_sluice/api/me's "doctor").
  allowTuning(allowed: boolean) {
    this.tuning = allowed;
  }

  private item(model: Model): HTMLLIElement {
    const item = element("li");
    item.dataset.model = model.name;
    const name = element("span", "name", model.name);
    const marks = badges(model.capabilities).map((capability) => element("span", `badge ${capability}`, capability));
    const card = element("details", "card");
    card.append(element("summary", "", "Details"));
    card.addEventListener("toggle", () => {
      if (card.open && card.childElementCount === 1) void this.loadCard(model.name, card);
    });
    const remove = element("button", "delete", "Delete");
    remove.type = "button";
    remove.onclick = () => void this.remove(model.name);
    item.append(name, ...marks, remove, card);
    return item;
  }

  // The card as /api/show has it: model_info's keys start with the architecture's name.
  private async loadCard(name: string, card: HTMLDetailsElement) {
    const facts = element("dl");
    card.append(facts);
    try {
      const response = await this.call("/api/show", { method: "POST", body: JSON.stringify({ model: name }) });
      const show = (await response.json()) as {
        details?: { family?: string; parameter_size?: string; quantization_level?: string };
        model_info?: Record<string, unknown>; capabilities?: string[]; template?: string; license?: string;
      };
      const architecture = show.model_info?.["general.architecture"];
      const context = show.model_info?.[`${architecture}.context_length`];
      const rows: [string, unknown][] = [
        ["family", show.details?.family], ["parameters", show.details?.parameter_size],
        ["quantization", show.details?.quantization_level],
        ["context length", typeof context === "number" ? context.toLocaleString("en") : undefined],
        ["capabilities", show.capabilities?.join(", ")],
      ];
      for (const [term, value] of rows) {
        if (value) facts.append(element("dt", "", term), element("dd", "", String(value)));
      }
      for (const [title, text] of [["Template", show.template], ["License", show.license]]) {
        if (!text) continue;
        const more = element("details");
        more.append(element("summary", "", title), element("pre", "", text));
        card.append(more);
      }
      if (this.tuning) void this.loadFindings(name, card);
    } catch (error) {
      facts.remove();  // opening the card again asks again
      this.notify(`Cannot show ${name}: ${(error as Error).message}`);
      card.open = false;
    }
  }

  // The findings about this model (a context that puts layers on the CPU, a variant not pulled).
  private async loadFindings(name: string, card: HTMLDetailsElement) {
    const list = element("ul", "findings");
    list.append(findingItem(undefined, "checking…"));
    card.append(element("div", "tuning", "Tuning check"), list);
    try {
      list.replaceChildren(...findingItems((await fetchFindings(this.call)).filter((finding) => finding.model === name)));
    } catch (error) {
      list.replaceChildren(findingItem(undefined, `cannot check: ${(error as Error).message}`));
    }
  }

  private async remove(name: string) {
    if (!confirm(`Delete ${name} from Ollama? Its files are removed; pulling it again downloads it all.`)) return;
    try {
      await this.call("/api/delete", { method: "DELETE", body: JSON.stringify({ model: name }) });
      this.deleted();
    } catch (error) {
      this.notify(`Cannot delete ${name}: ${(error as Error).message}`);
    }
  }
}

// A pull's speed in MB/s, measured over a second or more of one layer (its lines come many times a
// second, and each layer starts again from 0).
function speedometer() {
  let layer: string | undefined;
  let since = 0;
  let from = 0;
  let speed = 0;
  return (digest: string | undefined, completed: number): number => {
    const now = performance.now();
    if (digest !== layer) [layer, since, from, speed] = [digest, now, completed, 0];
    else if (now - since >= 1000) [since, from, speed] = [now, completed, megabytes(completed - from) / ((now - since) / 1000)];
    return speed;
  };
}

// Pulls `name`: /api/pull streams NDJSON progress, {"status","digest","total","completed"} lines
// (one layer after another), "success" at the end. Cancel aborts the fetch, and sluice then ends
// Ollama's pull. Resolves once the pull has ended, whichever way.
export async function pullModel(name: string, call: Call, ui: {
  progress: HTMLProgressElement; status: HTMLElement; cancel: HTMLButtonElement; pulled: () => Promise<void>;
}) {
  const { progress, status, cancel } = ui;
  const controller = new AbortController();
  cancel.onclick = () => controller.abort();
  cancel.hidden = false;
  progress.hidden = false;
  progress.value = 0;
  status.textContent = `pulling ${name}`;
  const speedOf = speedometer();
  try {
    const body = JSON.stringify({ model: name, stream: true });
    const response = await call("/api/pull", { method: "POST", body, signal: controller.signal });
    if (!response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffered += chunk.value;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines.filter((l) => l.trim())) {
        const update = JSON.parse(line) as { status?: string; error?: string; digest?: string; total?: number; completed?: number };
        if (update.error) throw new Error(update.error);
        status.textContent = update.status ?? "";
        if (!update.total) continue;
        const completed = update.completed ?? 0;
        progress.value = completed / update.total;
        const speed = speedOf(update.digest, completed);
        const rate = speed ? ` · ${speed.toFixed(1)} MB/s` : "";
        status.textContent += ` · ${size(completed)} of ${size(update.total)}${rate}`;
      }
    }
    if (status.textContent === "success") {
      progress.value = 1;
      await ui.pulled();
    }
  } catch (error) {
    status.textContent = controller.signal.aborted ? `pull of ${name} cancelled` : `pull failed: ${(error as Error).message}`;
  } finally {
    cancel.hidden = true;
  }
}
