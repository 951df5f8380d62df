// katex_html: TeX to sanitized HTML. Its own chunk (KaTeX and its CSS are most of the page's
// weight), loaded by math.ts when the page is idle or the first formula needs it.
import DOMPurify from "dompurify";
import katex from "katex";
import "katex/dist/katex.min.css";

// KaTeX writes HTML for the eye, MathML for screen readers (with the TeX source in <semantics>
// <annotation>, two tags DOMPurify's MathML profile leaves out) and SVG for stretchy symbols
// (\sqrt, \overrightarrow). Its output is sanitized too, with those allowed. Invalid TeX shows as
// its source in red (throwOnError: false); \href and friends need `trust`, which stays off.
const purifier = DOMPurify(window);
purifier.setConfig({ USE_PROFILES: { html: true, mathMl: true, svg: true }, ADD_TAGS: ["semantics", "annotation"] });

export function texToHtml(tex: string, display: boolean): string {
  return purifier.sanitize(katex.renderToString(tex, { displayMode: display, throwOnError: false, output: "htmlAndMathml" }));
}
