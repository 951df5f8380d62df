// e2e_support: what the browser tests share. The harness (sluice + fake Ollama, commanded over
// stdin), Debian's chromium through playwright-core, the page's address (127.0.0.1 or a LAN
// name), and checks that stop the test on failure, as does any uncaught exception in the page.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../ui/package.json"));  // playwright-core lives in ui/
const { chromium } = require("playwright-core");

// A scenario's arguments: <e2e_harness> <output dir> [<LAN name>]. With a LAN name the page is
// opened as http://<name>:<port>/, as from a phone on the network: plain http to a name that is
// not this machine's, so not a secure context (no crypto.randomUUID, no navigator.clipboard).
// Chromium maps the name to 127.0.0.1; sluice listens on 0.0.0.0, which it allows only with keys.
const [harnessPath, outDirArgument, lanName] = process.argv.slice(2);
export const lan = lanName !== undefined;
export const outDir = lan ? path.join(outDirArgument, lanName) : outDirArgument;

// Starts e2e_harness with `keys` (its API key arguments) and the browser; resolves once both
// are up, with the page's origin and the harness's port and commands.
export async function startSluice(keys = []) {
  mkdirSync(outDir, { recursive: true });
  const harness = spawn(harnessPath, lan ? ["--listen=0.0.0.0", ...keys] : keys, { stdio: ["pipe", "pipe", "inherit"] });
  const answers = readline.createInterface({ input: harness.stdout });
  const waiting = [];
  answers.on("line", (line) => waiting.shift()?.(line));
  const nextLine = () => new Promise((resolve) => waiting.push(resolve));
  const command = (text) => {
    const answer = nextLine();
    harness.stdin.write(text + "\n");
    return answer;
  };
  const port = Number((await nextLine()).split(" ")[1]);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           ...(lan ? [`--host-resolver-rules=MAP ${lanName} 127.0.0.1`] : [])],
  });  // playwright-core gives every launch a fresh, empty profile of its own
  return { port, origin: `http://${lanName ?? "127.0.0.1"}:${port}`, command, browser, quit: () => harness.stdin.write("quit\n") };
}

const pageErrors = [];  // uncaught exceptions in the pages: any one fails the scenario

// A page in a fresh browser context (cookies, storage, permissions of its own).
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  return page;
}

function throwIfPageError() {
  if (pageErrors.length) throw new Error(`FAILED: uncaught exception in the page: ${pageErrors.join("; ")}`);
}

// Runs `scenario` (its checks throw on the first failure), then closes the browser and the
// harness, and exits 1 if a check failed or the page threw, else 0.
export async function runScenario({ browser, quit }, scenario) {
  let failed = false;
  try {
    await scenario();
    throwIfPageError();
  } catch (error) {
    failed = true;
    console.log(error.message);
  } finally {
    await browser.close();
    quit();
  }
  process.exit(failed ? 1 : 0);
}

export function check(condition, what) {
  throwIfPageError();
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(what, predicate, timeoutMs = 10000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    throwIfPageError();
    if (await predicate()) return;
  }
  throw new Error(`FAILED: timed out waiting for ${what}`);
}

export const newKey = () => `sk-sluice-${randomBytes(32).toString("hex")}`;

export async function logIn(page, key) {
  await page.fill("#login-key", key);
  await page.press("#login-key", "Enter");
}

// Sends `text` from the composer and waits until the reply has stopped streaming and contains
// `lastWord`; returns the partial texts seen on the way (a streamed reply shows several).
export async function sendAndAwaitReply(page, text, lastWord) {
  const lastReply = page.locator(".message.assistant").last();
  const replyText = async () => (await lastReply.locator(".body").textContent()) ?? "";
  await page.fill("#input", text);
  await page.press("#input", "Enter");
  const seen = new Set();
  await until("the reply to finish", async () => {
    seen.add(await replyText());
    return (await page.locator("#stop").isHidden()) && (await replyText()).includes(lastWord);
  }, 15000);
  return [...seen].filter((t) => t && !t.includes(lastWord));
}
