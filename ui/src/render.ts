// render: model output to HTML, block by block. Pure functions (no DOM writes): markdown_view.ts
// decides which blocks to render again and sanitizes what it inserts.
import hljs from "highlight.js/lib/common";
import { Lexer, Marked, type Token, type Tokens, type TokenizerAndRendererExtension } from "marked";

// Splits inline <think>...</think> (models that put their reasoning in content) from the answer.
// An open <think> without its close is still streaming: everything after it is thinking.
export function splitThinking(content: string): { thinking: string; answer: string } {
  const open = content.indexOf("<think>");
  if (open === -1) return { thinking: "", answer: content };
  const close = content.indexOf("</think>", open);
  if (close === -1) return { thinking: content.slice(open + 7), answer: content.slice(0, open) };
  return {
    thinking: content.slice(open + 7, close),
    answer: content.slice(0, open) + content.slice(close + 8),
  };
}

export const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);

// --- math ---------------------------------------------------------------------------------------
// $...$ and \(...\) inline, $$...$$ and \[...\] display. They are tokens of their own, lexed before
// marked's escapes and emphasis, so `\,`, `_` or `*` inside TeX stay TeX. The HTML is a
// placeholder holding the source (<span class="math">); the page typesets it with KaTeX after
// sanitizing (math.ts), so KaTeX's output never goes through the markdown's sanitizer profile.

const mathHtml = (tex: string, display: boolean) =>
  `<span class="math${display ? " math-display" : ""}">${escapeHtml(tex)}</span>`;

// A $ opens only before a non-space and closes only after one and before no digit, so prices
// ("$5 and $10") stay text.
const inlineMathRules: [RegExp, boolean][] = [
  [/^\$\$([\s\S]+?)\$\$/, true],
  [/^\\\[([\s\S]+?)\\\]/, true],
  [/^\\\(([\s\S]+?)\\\)/, false],
  [/^\$(?=[^\s$])((?:\\\$|[^$])*?[^\s\\$])\$(?!\d)/, false],  // no lookbehind: Safari before 16.4
];

const inlineMath: TokenizerAndRendererExtension = {
  name: "math",
  level: "inline",
  start: (src) => {
    const at = src.search(/\$|\\[([]/);
    return at === -1 ? undefined : at;
  },
  tokenizer(src) {
    for (const [rule, display] of inlineMathRules) {
      const match = rule.exec(src);
      if (match) return { type: "math", raw: match[0], text: match[1].trim(), display };
    }
    return undefined;
  },
  renderer: (token) => mathHtml(token.text, token.display),
};

// A display formula on lines of its own. One still open at the end of the text (streaming; no
// blank line since its $$) is shown as its source until it closes, not as half-typeset TeX.
const blockMathRules = [
  /^ {0,3}\$\$((?:(?!\n[ \t]*\n)[\s\S])+?)\$\$[ \t]*(?:\n|$)/,
  /^ {0,3}\\\[((?:(?!\n[ \t]*\n)[\s\S])+?)\\\][ \t]*(?:\n|$)/,
];
const openBlockMath = /^ {0,3}(\$\$|\\\[)((?:(?!\n[ \t]*\n)[\s\S])*)$/;

const blockMath: TokenizerAndRendererExtension = {
  name: "mathBlock",
  level: "block",
  // Where a paragraph may stop for one: only at the start of a line (marked passes the
  // paragraph's text after its first character, so a line start is always after a newline).
  start: (src) => {
    const at = src.search(/\n {0,3}(?:\$\$|\\\[)/);
    return at === -1 ? undefined : at + 1;
  },
  tokenizer(src) {
    for (const rule of blockMathRules) {
      const match = rule.exec(src);
      if (match) return { type: "mathBlock", raw: match[0], text: match[1].trim(), closed: true };
    }
    const open = openBlockMath.exec(src);
    if (open && !open[2].includes(open[1] === "$$" ? "$$" : "\\]")) {
      return { type: "mathBlock", raw: open[0], text: open[0], closed: false };
    }
    return undefined;
  },
  renderer: (token) =>
    token.closed ? `<p>${mathHtml(token.text, true)}</p>\n` : `<pre class="math-source">${escapeHtml(token.text)}</pre>\n`,
};

// --- code ---------------------------------------------------------------------------------------
// Highlighted as soon as it is rendered, open or closed, so a block streams in its final colours.
// Only a named language is highlighted: guessing one (highlightAuto) runs every grammar, each
// frame, and a guess that changes as lines arrive would recolour the block.
function codeHtml({ text, lang }: Tokens.Code): string {
  const language = (lang ?? "").match(/^\S*/)?.[0] ?? "";
  const code = text.replace(/\n$/, "") + "\n";
  const body = language && hljs.getLanguage(language)
    ? hljs.highlight(code, { language, ignoreIllegals: true }).value
    : escapeHtml(code);
  return `<pre><code class="hljs${language ? ` language-${escapeHtml(language)}` : ""}">${body}</code></pre>\n`;
}

const markdown = new Marked(
  { gfm: true, breaks: false, async: false },
  { extensions: [blockMath, inlineMath], renderer: { code: codeHtml } },
);

// --- blocks -------------------------------------------------------------------------------------

export type Links = Record<string, { href: string | null; title: string | null }>;

export interface Blocks {
  finished: Token[];  // top-level blocks that can no longer change
  open: Token[];      // the last block (and blank lines after it): more text may still change it
  finishedLength: number;  // characters of the source the finished blocks cover
  links: Links;       // reference definitions ([x]: url) among the finished blocks
}

// Lexes `source` (markdown that starts at a block boundary) into top-level blocks. Once another
// block follows it, a block is finished: a paragraph, list, quote or fence can only grow while
// it is the last one (a blank line then `- b` still continues a list, so trailing blank lines
// do not finish it). `known` are the definitions seen in earlier blocks. With `final` (the reply
// has ended) every block is finished. A block is finished only while the raw texts of the blocks
// add up to a prefix of the source: where marked rewrote its input, the rest stays open.
export function lexBlocks(source: string, known: Links, final: boolean): Blocks {
  const lexer = new Lexer(markdown.defaults);
  Object.assign(lexer.tokens.links, known);
  const tokens = lexer.lex(source);
  let end = tokens.length;
  if (!final) while (end > 0 && tokens[end - 1].type === "space") end--;
  if (!final && end > 0) end--;  // the last block is open
  let count = 0;
  let length = 0;
  for (; count < end && source.startsWith(tokens[count].raw, length); count++) length += tokens[count].raw.length;
  const finished = tokens.slice(0, count);
  const links: Links = {};
  for (const token of finished) {
    if (token.type === "def") links[token.tag] ??= { href: token.href, title: token.title };
  }
  return { finished, open: tokens.slice(count), finishedLength: length, links };
}

export const blocksToHtml = (tokens: Token[]): string => (tokens.length ? markdown.parser(tokens) : "");

// Whether the text's last block is a fenced code block whose closing fence never came (a reply
// stopped or failed inside it): its code is not whole, so it is not offered as finished.
export function endsInUnclosedFence(tokens: Token[]): boolean {
  let end = tokens.length;
  while (end > 0 && tokens[end - 1].type === "space") end--;
  const last = tokens[end - 1] as Token | undefined;
  if (last?.type !== "code" || last.codeBlockStyle === "indented") return false;
  const lines = last.raw.replace(/\n+$/, "").split("\n");
  const fence = /^ {0,3}(`{3,}|~{3,})/.exec(lines[0])?.[1];
  if (!fence) return false;
  if (lines.length < 2) return true;
  return !new RegExp(`^ {0,3}\\${fence[0]}{${fence.length},}[ \\t]*$`).test(lines[lines.length - 1]);
}

// Whether the text defines a reference link: a later definition changes earlier blocks, so a
// finished reply with one is rendered again as a whole.
export const hasLinkDefinition = (source: string) => /^ {0,3}\[[^\]\n]+\]:/m.test(source);

// --- stats --------------------------------------------------------------------------------------

export interface Stats {
  ttftMs?: number;
  tokensPerSecond?: number;
  evalCount?: number;
  promptCount?: number;
  loadMs?: number;
  rewrite?: string;  // what sluice's rewriter changed in the request (X-Sluice-Rewrite)
  backend?: string;  // which Ollama of a fleet answered
}

export function formatStats(stats: Stats): string {
  const parts: string[] = [];
  if (stats.ttftMs !== undefined) parts.push(`TTFT ${Math.round(stats.ttftMs)} ms`);
  if (stats.tokensPerSecond !== undefined) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
  if (stats.evalCount !== undefined) parts.push(`${stats.evalCount} tokens`);
  if (stats.promptCount !== undefined) parts.push(`prompt ${stats.promptCount}`);
  if (stats.loadMs) parts.push(`load ${Math.round(stats.loadMs)} ms`);
  if (stats.rewrite) parts.push(`sluice changed: ${stats.rewrite}`);
  if (stats.backend) parts.push(`on ${stats.backend}`);
  return parts.join(" · ");
}
