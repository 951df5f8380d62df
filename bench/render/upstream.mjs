// upstream: an Ollama-shaped upstream for the render benchmark. Like build/bench/sluice_fast_upstream
// it sends one NDJSON line (one chunk, one write) per token at a fixed rate, each stamped with the
// realtime clock when sent (`created_at`, RFC 3339, 9 fraction digits); unlike it, the tokens
// are realistic markdown (reply.md, cycled: headings, lists, code, a table, a quote, math), and it
// answers what the page asks for first (/api/tags, /api/ps, /api/version, /api/show).
//
// Usage: node upstream.mjs [--listen 127.0.0.1:11500] [--rate 80] [--tokens 1000] [--text FILE]
// A chat whose last user message contains `rate=R` or `tokens=N` overrides them for that reply.
// Prints "listening <port>" once it accepts connections.
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "../../tests/fixtures");

const defaults = { listen: "127.0.0.1:0", rate: "80", tokens: "1000", text: path.join(here, "reply.md") };
let options;
try {
  const { values } = parseArgs({ options: Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: "string" }])) });
  options = { ...defaults, ...values };
} catch {
  console.error("usage: node upstream.mjs [--listen HOST:PORT] [--rate R] [--tokens N] [--text FILE]");
  process.exit(2);
}

// Token-sized pieces, about what a BPE tokenizer makes of English and code: a word with its
// leading space, a run of digits, one punctuation character, a newline run or spaces. Long
// words are cut in pieces of at most 6 letters.
function tokenize(text) {
  const pieces = text.match(/ ?[A-Za-z]+| ?\d{1,3}| ?[^\sA-Za-z\d]|\n+| +/g) ?? [];
  return pieces.flatMap((piece) => (piece.length <= 7 ? [piece] : piece.match(/^ ?.{1,6}|.{1,6}/g)));
}

const tokens = tokenize(readFileSync(options.text, "utf8"));
if (tokens.join("") !== readFileSync(options.text, "utf8")) throw new Error("tokenize lost characters");

const model = "qwen3:14b";
const fixture = (name) => readFileSync(path.join(fixtures, name));

// Wall clock with sub-millisecond digits, as RFC 3339 with 9 fraction digits like Ollama's.
function rfc3339Now() {
  const ms = performance.timeOrigin + performance.now();
  const whole = Math.floor(ms);
  const nanos = Math.round((ms - Math.floor(ms / 1000) * 1000) * 1e6);
  return `${new Date(whole).toISOString().slice(0, 19)}.${String(nanos).padStart(9, "0")}Z`;
}

function stream(request, response, body) {
  const last = [...(body.messages ?? [])].reverse().find((m) => m.role === "user")?.content ?? body.prompt ?? "";
  const rate = Number(/rate=(\d+(?:\.\d+)?)/.exec(last)?.[1] ?? options.rate);
  const count = Number(/tokens=(\d+)/.exec(last)?.[1] ?? options.tokens);
  response.socket.setNoDelay(true);
  response.writeHead(200, { "Content-Type": "application/x-ndjson" });
  const start = performance.now();
  let sent = 0;
  let timer;
  const line = (object) => response.write(JSON.stringify(object) + "\n");
  const tick = () => {
    // Every token that is due goes out now, each in its own write, and the next wake-up is at
    // the next due time (timers are late by up to a millisecond; the schedule does not drift).
    while (sent < count && performance.now() >= start + (sent * 1000) / rate) {
      line({ model, created_at: rfc3339Now(), message: { role: "assistant", content: tokens[sent % tokens.length] }, done: false });
      sent++;
    }
    if (sent < count) {
      timer = setTimeout(tick, Math.max(0, start + (sent * 1000) / rate - performance.now()));
      return;
    }
    const evalNs = Math.round((performance.now() - start) * 1e6);
    line({ model, created_at: rfc3339Now(), message: { role: "assistant", content: "" }, done_reason: "stop", done: true,
           total_duration: evalNs, load_duration: 0, prompt_eval_count: 20, prompt_eval_duration: 1000000,
           eval_count: count, eval_duration: evalNs });
    response.end();
  };
  response.on("close", () => clearTimeout(timer));
  tick();
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const url = new URL(request.url, "http://upstream");
    const json = (status, payload) => {
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(payload);
    };
    if (request.method === "GET" && url.pathname === "/api/tags") return json(200, fixture("tags.json"));
    if (request.method === "GET" && url.pathname === "/api/ps") return json(200, fixture("ps.json"));
    if (request.method === "GET" && url.pathname === "/api/version") return json(200, '{"version":"0.12.6"}');
    if (request.method === "POST" && url.pathname === "/api/show") return json(200, fixture("show-qwen3-14b.json"));
    if (request.method === "POST" && (url.pathname === "/api/chat")) {
      let body = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        return json(400, '{"error":"invalid JSON"}');
      }
      return stream(request, response, body);
    }
    if (url.pathname === "/") return json(200, "Ollama is running");
    json(404, '{"error":"not found"}');
  });
});
server.keepAliveTimeout = 60000;
const [host, port] = [options.listen.slice(0, options.listen.lastIndexOf(":")), Number(options.listen.split(":").pop())];
server.listen(port, host, () => console.log(`listening ${server.address().port}`));
