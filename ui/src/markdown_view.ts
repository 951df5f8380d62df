// markdown_view: a reply's markdown as DOM while it grows. Finished blocks are rendered once,
// sanitized once and never touched again; only the last, open block is rendered again as text
// arrives, so a frame costs the size of one block, not of the whole reply.
import DOMPurify from "dompurify";
import { blocksToHtml, endsInUnclosedFence, hasLinkDefinition, lexBlocks, type Links } from "./render";
import { typesetMath } from "./math";

// Finished blocks are kept in chunks of this many: the browser then lays out a long reply as a
// few dozen chunks each frame, not as hundreds of blocks.
const chunkSize = 32;

export class MarkdownView {
  readonly element = document.createElement("div");
  private readonly open = document.createElement("div");  // the open block, rendered again each update
  private chunk?: HTMLElement;  // where finished blocks go
  private shown = "";        // the markdown the view shows
  private frozen = "";       // its prefix shown as finished blocks, before `open`
  private links: Links = {};  // reference definitions among the finished blocks
  private final = false;

  // `decorateCode` is called once for each finished code block (the page adds a copy button).
  constructor(private readonly decorateCode: (code: HTMLElement) => void) {
    this.element.className = "markdown";
    this.element.append(this.open);
  }

  // Shows `markdown`, which usually extends what is shown; `final` once the reply has ended, when
  // the last block is finished too. `cut`: it ended early (stopped, failed), so a code block left
  // open is marked unfinished instead of getting the finished blocks' decoration (Copy).
  update(markdown: string, final: boolean, cut = false) {
    if (markdown.includes("\r")) markdown = markdown.replace(/\r\n?/g, "\n");  // as marked's lexer does
    if (markdown === this.shown && final === this.final) return;
    // Not an extension of what is frozen (a <think> opened mid-answer, an edit): start again. A
    // finished reply with a reference definition is rendered again as a whole, since the
    // definition may come after blocks that use it.
    if (!markdown.startsWith(this.frozen) || (final && this.frozen && hasLinkDefinition(markdown))) this.clear();
    this.shown = markdown;
    this.final = final;
    const blocks = lexBlocks(markdown.slice(this.frozen.length), this.links, final);
    if (blocks.finished.length) {
      const finished = this.sanitize(blocksToHtml(blocks.finished));
      const codes = finished.querySelectorAll<HTMLElement>("pre > code");
      const unfinished = final && cut && endsInUnclosedFence(blocks.finished) ? codes[codes.length - 1] : undefined;
      unfinished?.parentElement?.classList.add("unfinished");
      codes.forEach((code) => code !== unfinished && this.decorateCode(code));
      this.appendFinished(finished);
      this.frozen += markdown.slice(this.frozen.length, this.frozen.length + blocks.finishedLength);
      Object.assign(this.links, blocks.links);
    }
    this.open.replaceChildren(this.sanitize(blocksToHtml(blocks.open)));
    this.open.hidden = !this.open.hasChildNodes();  // no empty box between the last block and the stats
  }

  private appendFinished(blocks: DocumentFragment) {
    for (let block = blocks.firstChild; block; block = blocks.firstChild) {
      if (!this.chunk || this.chunk.childElementCount >= chunkSize) {
        this.chunk = document.createElement("div");
        this.chunk.className = "chunk";
        this.open.before(this.chunk);
      }
      this.chunk.append(block);
    }
  }

  private clear() {
    this.chunk = undefined;
    this.element.replaceChildren(this.open);
    this.frozen = "";
    this.links = {};
  }

  // Model output is untrusted: no script, event handler or javascript: URL survives. Formulas are
  // typeset after, from their sanitized source.
  private sanitize(html: string): DocumentFragment {
    const fragment = purifier.sanitize(html) as unknown as DocumentFragment;  // RETURN_DOM_FRAGMENT
    typesetMath(fragment);
    return fragment;
  }
}

// An instance of its own with its configuration set once: given per call, DOMPurify would build
// its allow-lists again on every call, that is every frame.
const purifier = DOMPurify(window);
purifier.setConfig({ USE_PROFILES: { html: true }, RETURN_DOM_FRAGMENT: true });

// A reply's first frames would pay for compiling marked's and highlight.js's expressions, each
// language's grammar and KaTeX's code; rendering this once, off screen, while the page is idle
// pays for them before any reply streams.
const warmUpSample = [
  "## Title\n\nSome *text*, **bold**, `code`, a [link](https://example.com) and $x^2 + \\frac{a}{b}$.\n",
  "- one\n- two\n\n1. first\n2. second\n\n> quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n",
  "$$\n\\sum_{i=1}^{n} \\sqrt{x_i}\n$$\n",
  ...["python", "javascript", "typescript", "bash", "json", "cpp"].map((lang) => `\n\`\`\`${lang}\nx = f(1, "a") # c\n\`\`\`\n`),
].join("\n");

export function warmUp() {
  new MarkdownView(() => {}).update(warmUpSample, true);
  // KaTeX's most used faces: fetched on first use otherwise, each arrival laying the reply out again.
  for (const font of ["1em KaTeX_Main", "italic 1em KaTeX_Math", "1em KaTeX_Size1", "1em KaTeX_Size2"]) void document.fonts.load(font);
}
