// tool_calls: what a reply shows besides its text. The function calls the model asks for (a stream
// line's message.tool_calls), kept in its answer and shown as cards, the function's name and its
// arguments as indented JSON (model output: text only, never HTML); and how long it thought.

export interface ToolCall { function: { name: string; arguments?: unknown } }

declare module "./conversation" {
  interface Answer {
    toolCalls?: ToolCall[];
    thinkingMs?: number;  // from the first thinking token to the first answer token
  }
}

function card(call: ToolCall): HTMLElement {
  const card = document.createElement("div");
  card.className = "tool-call";
  const name = document.createElement("div");
  name.className = "tool-name";
  name.textContent = `calls ${call.function?.name ?? "?"}`;
  const args = document.createElement("pre");
  args.textContent = JSON.stringify(call.function?.arguments ?? {}, null, 2);
  card.append(name, args);
  return card;
}

// Shows `calls` in `body` (in a box of their own, drawn again only when more came).
export function showToolCalls(body: HTMLElement, calls: ToolCall[] = []) {
  let box = body.querySelector<HTMLElement>(":scope > .tool-calls");
  if (!calls.length || box?.childElementCount === calls.length) return;
  if (!box) {
    box = document.createElement("div");
    box.className = "tool-calls";
    body.append(box);
  }
  box.replaceChildren(...calls.map(card));
}

// The thinking block's title: how long the model thought, once it has answered.
export const thinkingTitle = (thinkingMs?: number) =>
  thinkingMs === undefined ? "Thinking" : `Thought for ${(thinkingMs / 1000).toFixed(1)} s`;
