// findings: what `sluice doctor` finds (/_sluice/api/doctor), each with its fix, drawn as list
// items: all of them in the Tuning check panel, a model's own in its card (models.ts).
import type { Call } from "./store";

// `model` names the model a finding is about; none: the whole box (Ollama's settings).
export interface Finding { severity: "costly" | "advice"; text: string; fix: string; model?: string }

// Asked afresh each time: the findings follow what Ollama has loaded.
export async function fetchFindings(call: Call): Promise<Finding[]> {
  return ((await (await call("/_sluice/api/doctor")).json()) as { findings: Finding[] }).findings;
}

export function findingItem(finding?: Finding, note = ""): HTMLLIElement {
  const item = document.createElement("li");
  if (!finding) {
    item.textContent = note;
    return item;
  }
  item.className = finding.severity;
  const severity = document.createElement("span");
  severity.className = "severity";
  severity.textContent = finding.severity === "costly" ? "costs tokens/s: " : "advice: ";
  const fix = document.createElement("div");
  fix.className = "fix";
  fix.textContent = `fix: ${finding.fix}`;
  item.append(severity, finding.text, fix);
  return item;
}

// The list for `findings`, or one line saying there is nothing to fix.
export function findingItems(findings: Finding[]): HTMLLIElement[] {
  return findings.length ? findings.map((finding) => findingItem(finding)) : [findingItem(undefined, "nothing found that costs tokens/s")];
}
