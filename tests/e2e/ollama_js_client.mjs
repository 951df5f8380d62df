// ollama_js_client: Ollama's own JavaScript client (ollama-js) through sluice, as an app uses it:
// list the models, then stream a chat. login.e2e.mjs runs it in a node process of its own, so
// that over HTTPS NODE_EXTRA_CA_CERTS (read when node starts) makes it trust the test CA and
// nothing else.
// Usage: node ollama_js_client.mjs <sluice URL> <API key>
// Prints one JSON line: {"models": [...], "parts": n, "content": "...", "done": true}.
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../ui/package.json"));  // ollama lives in ui/'s dev dependencies
const { Ollama } = require("ollama");

const [host, key] = process.argv.slice(2);
const ollama = new Ollama({ host, headers: { Authorization: `Bearer ${key}` } });
const { models } = await ollama.list();
const stream = await ollama.chat({ model: "qwen3:14b", messages: [{ role: "user", content: "Hi" }], stream: true });
let parts = 0;
let content = "";
let done = false;
for await (const part of stream) {
  parts += 1;
  content += part.message.content;
  done ||= part.done;
}
console.log(JSON.stringify({ models: models.map((model) => model.name), parts, content, done }));
