// render: model output to safe HTML. Pure functions (no DOM writes) so the streaming path only
// re-renders the message that is growing.
import DOMPurify from "dompurify";
import { marked } from "marked";

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

// Markdown to HTML, sanitized: no script, event handler or javascript: URL survives.
export function markdownToSafeHtml(markdown: string): string {
  const html = marked.parse(markdown, { async: false, gfm: true, breaks: false }) as string;
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true } });
}

export interface Stats {
  ttftMs?: number;
  tokensPerSecond?: number;
  evalCount?: number;
  promptCount?: number;
  loadMs?: number;
  rewrite?: string;  // what sluice's rewriter changed in the request (X-Sluice-Rewrite)
}

export function formatStats(stats: Stats): string {
  const parts: string[] = [];
  if (stats.ttftMs !== undefined) parts.push(`TTFT ${Math.round(stats.ttftMs)} ms`);
  if (stats.tokensPerSecond !== undefined) parts.push(`${stats.tokensPerSecond.toFixed(1)} tok/s`);
  if (stats.evalCount !== undefined) parts.push(`${stats.evalCount} tokens`);
  if (stats.promptCount !== undefined) parts.push(`prompt ${stats.promptCount}`);
  if (stats.loadMs) parts.push(`load ${Math.round(stats.loadMs)} ms`);
  if (stats.rewrite) parts.push(`sluice changed: ${stats.rewrite}`);
  return parts.join(" · ");
}
