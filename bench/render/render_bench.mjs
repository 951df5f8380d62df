// render_bench: is the page the slowest link? Drives Chromium (headless, playwright-core, as the
// e2e tests do) against sluice and a fast Ollama-shaped upstream (upstream.mjs: realistic markdown
// at a fixed rate), and measures in the page, per offered rate and reply length:
//   - rendered / offered: how long the model took (first to last token sent) over how long until
//     the whole reply was in the DOM (first token sent to last token in the DOM);
//   - render lag per token: WebSocket frame handled -> token in the DOM, and upstream send
//     (`created_at`) -> token in the DOM, p50/p99;
//   - frame times (requestAnimationFrame deltas) and long tasks (PerformanceObserver) while the
//     reply streams;
//   - whether the streamed reply's DOM equals the one the page renders from scratch on reload.
// The page is not changed for this: an init script wraps WebSocket to stamp each frame, and a
// MutationObserver stamps the first DOM change after it (the page renders all it has received,
// at most once per frame, so that change contains the token).
//
// Usage: node bench/render/render_bench.mjs [--pages NAME=DIST,...] [--rates 80,250,1000]
//          [--tokens 1000,16000] [--sluice BIN] [--chromium PATH] [--out FILE.jsonl] [--wait-quiet S]
// --pages defaults to after=ui/dist (build it first: cd ui && npm run build); the name `floor`
// without a directory is a stand-in page that renders nothing but a counter (what any page pays
// for the WebSocket frames and a frame of its own). --wait-quiet S: before each run, wait up to S
// seconds for both CPUs to be 90 % idle (a shared machine). A benchmark, not a test: it fails only
// when something does not run, never on a time.
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "../..");
const require = createRequire(path.join(root, "ui/package.json"));  // playwright-core lives in ui/
const { chromium } = require("playwright-core");

const defaults = { pages: `after=${path.join(root, "ui/dist")}`, rates: "80,250,1000", tokens: "1000,16000",
                   sluice: path.join(root, "build/sluice"), chromium: process.env.CHROMIUM ?? "/usr/bin/chromium", out: "",
                   "wait-quiet": "0" };
let options;
try {
  const { values } = parseArgs({ options: Object.fromEntries(Object.keys(defaults).map((k) => [k, { type: "string" }])) });
  options = { ...defaults, ...values };
} catch {
  console.error("usage: node render_bench.mjs [--pages NAME=DIST,...] [--rates R,...] [--tokens N,...] [--sluice BIN] [--chromium PATH] [--out FILE.jsonl] [--wait-quiet S]");
  process.exit(2);
}
// The floor: the same socket, chat and DOM shape as the page, but each frame only writes how many
// characters have arrived into one element, so its lag and frame times are what 1000 WebSocket
// frames a second and a minimal frame cost on this machine, whatever the rendering.
const floorPage = `<!doctype html><title>floor</title>
<select id="model"><option>qwen3:14b</option></select><textarea id="input"></textarea><button id="stop" hidden></button>
<section id="messages"><article class="message assistant"><div class="body"><span id="count">0</span></div></article></section>
<script>
let chars = 0, scheduled = false;
const count = document.getElementById("count");
document.getElementById("input").addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  event.preventDefault();
  const ws = new WebSocket("ws://" + location.host + "/_sluice/ws");
  ws.onopen = () => ws.send(JSON.stringify({ id: "1", chat: { model: "qwen3:14b", stream: true, messages: [{ role: "user", content: event.target.value }] } }));
  ws.onmessage = (message) => {
    const frame = JSON.parse(message.data);
    if (frame.line?.message?.content) chars += frame.line.message.content.length;
    if (frame.done) document.getElementById("stop").hidden = true;
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(() => { scheduled = false; count.textContent = String(chars); });
    }
  };
  document.getElementById("stop").hidden = false;
});
</script>`;
const pages = options.pages.split(",").map((spec) => {
  if (spec === "floor") {
    const dir = mkdtempSync(path.join(os.tmpdir(), "render-bench-floor-"));
    writeFileSync(path.join(dir, "index.html"), floorPage);
    return { name: "floor", dir, floor: true };
  }
  const [name, dir] = spec.includes("=") ? spec.split("=") : [path.basename(spec), spec];
  return { name, dir: path.resolve(dir) };
});
const rates = options.rates.split(",").map(Number);
const lengths = options.tokens.split(",").map(Number);

const children = [];
const stopChildren = () => children.forEach((child) => child.exitCode === null && child.kill("SIGTERM"));
process.on("exit", stopChildren);
process.on("SIGINT", () => process.exit(130));

function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Busy and total jiffies of the whole machine (/proc/stat's first line): the share the machine was
// busy during a run, ours included (the page and sluice), says how noisy that run was.
function cpuTicks() {
  const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + fields[4];
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
const busyPercent = (from, to) => (100 * (to.busy - from.busy)) / Math.max(1, to.total - from.total);

async function waitQuiet(seconds) {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    const before = cpuTicks();
    await sleep(1000);
    if (busyPercent(before, cpuTicks()) <= 10) return;
  }
}

async function startUpstream() {
  const child = spawn(process.execPath, [path.join(here, "upstream.mjs"), "--listen", "127.0.0.1:0"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", () => reject(new Error("upstream.mjs exited")));
  });
  return Number(line.split(" ")[1]);
}

// One sluice per page build: it serves the page from `dir` (ui.dir), so no rebuilt binary is needed.
async function startSluice(dir, upstreamPort) {
  const port = await freePort();
  const scratch = mkdtempSync(path.join(os.tmpdir(), "render-bench-"));
  const config = path.join(scratch, "sluice.yaml");
  // The page saves its chats as they stream (a page built before the store ignores it).
  writeFileSync(config, `listen: 127.0.0.1:${port}\nupstream: http://127.0.0.1:${upstreamPort}\nui:\n  dir: ${dir}\n` +
                        `store:\n  path: ${path.join(scratch, "conversations.db")}\n`);
  const child = spawn(options.sluice, ["--config", config, "--log-level", "warn", "--threads", "1"], { stdio: ["ignore", "inherit", "inherit"] });
  children.push(child);
  const origin = `http://127.0.0.1:${port}`;
  for (const deadline = Date.now() + 10000; Date.now() < deadline; await sleep(100)) {
    if (child.exitCode !== null) throw new Error(`sluice exited with status ${child.exitCode}`);
    if (await fetch(`${origin}/api/version`).then((r) => r.ok, () => false)) return { origin, child };
  }
  throw new Error("sluice did not answer within 10 s");
}

// Runs in the page before its own script.
function instrument() {
  const bench = (window.__bench = { tokens: [], frames: [], longTasks: [], rendered: 0, done: false });
  const createdAt = (text) => {
    const match = /^(.{19})(?:\.(\d+))?Z$/.exec(text ?? "");
    return match ? Date.parse(`${match[1]}Z`) + Number(`0.${match[2] ?? 0}`) * 1000 : NaN;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      // Added before the page sets onmessage, so this runs first, with the page's own delays.
      this.addEventListener("message", (event) => {
        const at = performance.now();
        const line = JSON.parse(event.data).line;
        if (line?.message?.content) bench.tokens.push({ at, sent: createdAt(line.created_at), dom: NaN });
        if (line?.done) bench.done = true;
      });
    }
  };
  // The first change to the messages' DOM after a frame arrived: every token received so far is in it.
  new MutationObserver((records) => {
    if (!records.some((r) => (r.target.nodeType === 1 ? r.target : r.target.parentElement)?.closest("#messages"))) return;
    const now = performance.now();
    for (; bench.rendered < bench.tokens.length; bench.rendered++) bench.tokens[bench.rendered].dom = now;
  }).observe(document, { subtree: true, childList: true, characterData: true });
  const frame = (time) => {
    bench.frames.push(time);
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  new PerformanceObserver((list) => bench.longTasks.push(...list.getEntries().map((e) => ({ start: e.startTime, duration: e.duration }))))
    .observe({ type: "longtask", buffered: true });
}

const percentile = (values, p) => {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
};

function summarize(raw, rate, count) {
  const { tokens, frames, longTasks, timeOrigin } = raw;
  const first = tokens[0];
  const last = tokens.at(-1);
  const wall = (t) => timeOrigin + t;  // the page's clock as the upstream's (both the realtime clock)
  const offeredSpan = last.sent - first.sent;
  const renderedSpan = wall(last.dom) - first.sent;
  const windowStart = first.at;
  const windowEnd = last.dom;
  const deltas = [];
  for (let i = 1; i < frames.length; i++) if (frames[i] >= windowStart && frames[i - 1] <= windowEnd) deltas.push(frames[i] - frames[i - 1]);
  const tasks = longTasks.filter((t) => t.start + t.duration >= windowStart && t.start <= windowEnd);
  return {
    rate, tokens: count, received: tokens.length,
    offered_tps: ((tokens.length - 1) / offeredSpan) * 1000,
    rendered_tps: ((tokens.length - 1) / renderedSpan) * 1000,
    ratio: offeredSpan / renderedSpan,
    lag_ws_p50: percentile(tokens.map((t) => t.dom - t.at), 50),
    lag_ws_p99: percentile(tokens.map((t) => t.dom - t.at), 99),
    lag_send_p50: percentile(tokens.map((t) => wall(t.dom) - t.sent), 50),
    lag_send_p99: percentile(tokens.map((t) => wall(t.dom) - t.sent), 99),
    arrival_p99: percentile(tokens.map((t) => wall(t.at) - t.sent), 99),
    frame_p50: percentile(deltas, 50), frame_p95: percentile(deltas, 95), frame_p99: percentile(deltas, 99), frame_max: Math.max(...deltas),
    // rAF times are vsync-aligned (16.7 ms apart at 60 Hz): a delta over 20 ms is a missed frame.
    frames_missed: (100 * deltas.filter((d) => d > 20).length) / Math.max(1, deltas.length),
    long_tasks: tasks.length, long_task_ms: tasks.reduce((sum, t) => sum + t.duration, 0),
    long_task_max: tasks.length ? Math.max(...tasks.map((t) => t.duration)) : 0,
  };
}

async function runOne(browser, { origin, floor }, rate, count) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.addInitScript(instrument);
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.querySelectorAll("#model option").length > 0);
  await sleep(1500);  // the page settles (KaTeX is fetched when idle) before the clock starts
  if (Number(options["wait-quiet"]) > 0) await waitQuiet(Number(options["wait-quiet"]));
  const ticks = cpuTicks();
  await page.fill("#input", `Explain rate limiting. rate=${rate} tokens=${count}`);
  await page.press("#input", "Enter");
  const timeout = (count / rate) * 4000 + 60000;
  await page.waitForFunction(() => window.__bench.done && window.__bench.rendered === window.__bench.tokens.length &&
                                   !!document.querySelector("#stop[hidden]"), null, { polling: 500, timeout }).catch(async (error) => {
    const state = await page.evaluate(() => ({ tokens: window.__bench.tokens.length, rendered: window.__bench.rendered, done: window.__bench.done,
                                               status: document.querySelector("#status")?.textContent }));
    throw new Error(`the reply did not finish within ${timeout / 1000} s: ${JSON.stringify(state)}`, { cause: error });
  });
  const machineBusy = busyPercent(ticks, cpuTicks());
  await sleep(500);
  const raw = await page.evaluate(() => ({ ...window.__bench, timeOrigin: performance.timeOrigin }));
  const reply = () => page.evaluate(async () => {
    for (let i = 0; i < 100 && document.querySelector(".message.assistant .math:not(.typeset)"); i++) await new Promise((r) => setTimeout(r, 50));
    return [...document.querySelectorAll(".message.assistant .body")].at(-1)?.innerHTML ?? "";
  });
  const streamed = await reply();
  let fresh;
  if (!floor) {
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll(".message.assistant").length > 0);
    fresh = await reply();
  }
  await context.close();
  if (errors.length) throw new Error(`the page threw: ${errors.join("; ")}`);
  if (raw.tokens.length !== count) throw new Error(`${raw.tokens.length} tokens arrived, ${count} were sent`);
  return { ...summarize(raw, rate, count), machine_busy: machineBusy, same_as_fresh: floor ? undefined : streamed === fresh };
}

const f = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : "-");

const upstreamPort = await startUpstream();
const servers = [];
for (const page of pages) servers.push({ ...page, ...(await startSluice(page.dir, upstreamPort)) });
const browser = await chromium.launch({
  executablePath: options.chromium,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const results = [];
try {
  let round = 0;
  for (const count of lengths) {
    for (const rate of rates) {
      // Pages alternate which goes first, so drift on a shared machine falls on both.
      const order = round++ % 2 ? [...servers].reverse() : servers;
      for (const server of order) {
        const result = { page: server.name, ...(await runOne(browser, server, rate, count)) };
        results.push(result);
        if (options.out) appendFileSync(options.out, JSON.stringify(result) + "\n");
        console.error(`${result.page} ${rate} tok/s x ${count}: ratio ${f(result.ratio, 3)}, lag p99 ${f(result.lag_ws_p99)} ms, ` +
                      `frame p95 ${f(result.frame_p95)} ms, long tasks ${result.long_tasks}`);
      }
    }
  }
} finally {
  await browser.close();
  stopChildren();
}

console.log("| page | tok/s offered | tokens | rendered / offered | lag after WS frame p50 / p99 ms | lag after send p50 / p99 ms | frame p50 / p95 / p99 ms | frames > 20 ms | long tasks (total ms, max ms) | DOM = fresh render | machine busy |");
console.log("|---|---|---|---|---|---|---|---|---|---|---|");
for (const r of results) {
  console.log(`| ${r.page} | ${r.rate} (${f(r.offered_tps, 0)} sent) | ${r.tokens} | ${f(r.ratio, 3)} | ${f(r.lag_ws_p50)} / ${f(r.lag_ws_p99)} | ` +
              `${f(r.lag_send_p50)} / ${f(r.lag_send_p99)} | ${f(r.frame_p50)} / ${f(r.frame_p95)} / ${f(r.frame_p99)} | ${f(r.frames_missed)} % | ` +
              `${r.long_tasks} (${f(r.long_task_ms, 0)}, ${f(r.long_task_max, 0)}) | ${r.same_as_fresh === undefined ? "-" : r.same_as_fresh ? "yes" : "no"} | ${f(r.machine_busy, 0)} % |`);
}
