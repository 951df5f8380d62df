// parameters: a chat's own options for Ollama (temperature, num_ctx, ...), set in a panel above
// the chat and sent with each of its requests; named presets of them, kept in this browser; and
// what sluice's rewriter will run with them (/_sluice/api/explain), shown in the panel and beside
// the model picker.
import type { Call } from "./store";

// Only the options set: an empty field is left to the model's and sluice's defaults.
export type Options = Record<string, number>;

declare module "./conversation" {
  interface Conversation { options?: Options }
}

// The options offered, and whether Ollama takes them as integers (a fraction there fails the request).
const fields: [name: string, integer: boolean][] = [
  ["temperature", false], ["top_p", false], ["top_k", true], ["min_p", false],
  ["num_ctx", true], ["num_predict", true], ["seed", true], ["repeat_penalty", false],
];

const presetsKey = "sluice.presets";

function readPresets(): Record<string, Options> {
  try {
    return JSON.parse(localStorage.getItem(presetsKey) ?? "{}") as Record<string, Options>;
  } catch {
    return {};  // a damaged entry is replaced at the next save
  }
}

// The rewriter's plan for `model` with `options`: the model it runs and the settings it changes.
export interface Plan { model: string; changes: string[]; reasons: string[] }

export async function explain(call: Call, model: string, options?: Options): Promise<Plan> {
  const query = new URLSearchParams({ model });
  if (options && Object.keys(options).length) query.set("options", JSON.stringify(options));
  return (await (await call(`/_sluice/api/explain?${query}`)).json()) as Plan;
}

// "→ runs qwen3:14b-q8_0 · num_ctx=8192", or "" when the rewriter changes nothing.
export function planText(plan: Plan, picked: string): string {
  const parts = [...(plan.model !== picked ? [`runs ${plan.model}`] : []), ...plan.changes.filter((c) => !c.startsWith("model="))];
  return parts.length ? `→ ${parts.join(" · ")}` : "";
}

// The panel in `box` (a <details> with its <summary>): one number field per option, the presets,
// and the plan line. `changed` gets the options each time the reader changes them.
export class ParametersPanel {
  private readonly inputs = new Map<string, HTMLInputElement>();
  private readonly summary: HTMLElement;
  private readonly presetPicker = document.createElement("select");
  private readonly presetName = document.createElement("input");
  private readonly plan = document.createElement("p");
  private shown = "";  // the options the fields show, as JSON

  constructor(box: HTMLDetailsElement, private readonly changed: (options: Options) => void) {
    this.summary = box.querySelector("summary") as HTMLElement;
    const grid = document.createElement("div");
    grid.className = "fields";
    for (const [name, integer] of fields) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "number";
      input.step = integer ? "1" : "any";  // a fraction in an integer field is invalid (:invalid), so not sent
      input.placeholder = "not set";
      input.addEventListener("input", () => this.changed(this.read()));
      label.append(name, input);
      grid.append(label);
      this.inputs.set(name, input);
    }
    this.plan.className = "plan";
    box.append(grid, this.presetsRow(), this.plan);
    this.listPresets();
  }

  // Shows a chat's options; returns whether they differ from what the fields showed (so the
  // page asks for the plan again).
  show(options: Options = {}): boolean {
    const json = JSON.stringify(options);
    if (json === this.shown) return false;
    for (const [name, input] of this.inputs) input.value = options[name] === undefined ? "" : String(options[name]);
    this.summarize(options);
    return true;
  }

  showPlan(text: string) {
    this.plan.textContent = text;
  }

  private read(): Options {
    const options: Options = {};
    for (const [name, input] of this.inputs) {
      if (input.value !== "" && input.checkValidity()) options[name] = input.valueAsNumber;
    }
    this.summarize(options);
    return options;
  }

  // The summary says what is set, so a closed panel still shows it.
  private summarize(options: Options) {
    this.shown = JSON.stringify(options);
    const set = Object.entries(options).map(([name, value]) => `${name}=${value}`);
    this.summary.textContent = set.length ? `Parameters: ${set.join(" · ")}` : "Parameters";
  }

  private apply(options: Options) {
    this.show(options);
    this.changed(this.read());
  }

  // Presets: picking one applies it; Delete removes the one picked; Save keeps the fields under a name.
  private presetsRow(): HTMLElement {
    const row = document.createElement("div");
    row.className = "presets";
    this.presetPicker.setAttribute("aria-label", "presets");
    this.presetPicker.addEventListener("change", () => {
      const preset = readPresets()[this.presetPicker.value];
      if (preset) this.apply(preset);
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.onclick = () => {
      const presets = readPresets();
      delete presets[this.presetPicker.value];
      this.savePresets(presets);
    };
    this.presetName.placeholder = "preset name";
    this.presetName.setAttribute("aria-label", "preset name");
    const save = document.createElement("button");
    save.type = "button";
    save.textContent = "Save as preset";
    save.onclick = () => {
      const name = this.presetName.value.trim();
      if (!name) {
        this.presetName.focus();
        return;
      }
      this.savePresets({ ...readPresets(), [name]: this.read() });
      this.presetName.value = "";
      this.presetPicker.value = name;
    };
    row.append(this.presetPicker, remove, this.presetName, save);
    return row;
  }

  private savePresets(presets: Record<string, Options>) {
    localStorage.setItem(presetsKey, JSON.stringify(presets));
    this.listPresets();
  }

  private listPresets() {
    const names = Object.keys(readPresets()).sort();
    const none = new Option(names.length ? "Presets…" : "no presets yet", "");
    this.presetPicker.replaceChildren(none, ...names.map((name) => new Option(name, name)));
  }
}
