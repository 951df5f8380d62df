// math: typesets the <span class="math"> placeholders that render.ts leaves for formulas. KaTeX
// loads on first use (its chunk is bigger than the rest of the page); until then a formula
// shows its TeX source, and every placeholder waiting for it is typeset once it is there.
type TexToHtml = (tex: string, display: boolean) => string;

let texToHtml: TexToHtml | undefined;
let loading: Promise<void> | undefined;
// "display:tex" -> the typeset formula, parsed once: an open block shows its formulas again every
// frame, and cloning nodes is much cheaper than parsing KaTeX's HTML again.
const typeset = new Map<string, HTMLTemplateElement>();

export function loadMath(): Promise<void> {
  loading ??= import("./katex_html").then(
    (module) => {
      texToHtml = module.texToHtml;
      typesetMath(document);  // whatever waited for it
    },
    () => { loading = undefined; },  // offline or a stale page: the source stays, the next formula tries again
  );
  return loading;
}

// Typesets the placeholders under `root` that are not typeset yet.
export function typesetMath(root: ParentNode) {
  const placeholders = root.querySelectorAll<HTMLElement>(".math:not(.typeset)");
  if (placeholders.length === 0) return;
  if (!texToHtml) {
    void loadMath();
    return;
  }
  for (const element of placeholders) {
    const display = element.classList.contains("math-display");
    const tex = element.textContent ?? "";
    const key = `${display ? "D" : "I"}:${tex}`;
    let template = typeset.get(key);
    if (!template) {
      template = document.createElement("template");
      template.innerHTML = texToHtml(tex, display);
      if (typeset.size > 500) typeset.clear();
      typeset.set(key, template);
    }
    element.replaceChildren(template.content.cloneNode(true));
    element.classList.add("typeset");
  }
}
