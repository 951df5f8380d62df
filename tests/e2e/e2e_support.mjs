// e2e_support: what the browser tests share. The harness (sluice + fake Ollama, commanded over
// stdin), Debian's chromium through playwright-core, the page's address (127.0.0.1 or a LAN
// name), and checks that stop the test on failure, as does any uncaught exception in the page.
import { spawn } from "node:child_process";
import { X509Certificate, createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../ui/package.json"));  // playwright-core lives in ui/
const { chromium } = require("playwright-core");

// A scenario's arguments: <e2e_harness> <output dir> [<LAN name> [https]]. With a LAN name the
// page is opened as http://<name>:<port>/, as from a phone on the network: plain http to a name
// that is not this machine's, so not a secure context (no crypto.randomUUID, no
// navigator.clipboard). Chromium maps the name to 127.0.0.1; sluice listens on 0.0.0.0, which it
// allows only with keys. With https, sluice serves HTTPS with a certificate `sluice cert` made
// for the name, and Chromium trusts its CA (by the CA key's hash, as a user who installed ca.crt).
const [harnessPath, outDirArgument, lanName, scheme = "http"] = process.argv.slice(2);
export const lan = lanName !== undefined;
export const https = scheme === "https";
export { scheme };
export const outDir = lan ? path.join(outDirArgument, https ? `${lanName}-https` : lanName) : outDirArgument;

// Starts e2e_harness with `keys` (its API key arguments) and the browser; resolves once both
// are up, with the page's origin and the harness's port and commands.
export async function startSluice(keys = []) {
  mkdirSync(outDir, { recursive: true });
  const tlsDir = path.join(outDir, "tls");
  const options = [...(lan ? ["--listen=0.0.0.0"] : []), ...(https ? [`--tls=${tlsDir}:${lanName}`] : [])];
  const harness = spawn(harnessPath, [...options, ...keys], { stdio: ["pipe", "pipe", "inherit"] });
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
  const trustCa = () => {
    const ca = new X509Certificate(readFileSync(path.join(tlsDir, "ca.crt")));
    const hash = createHash("sha256").update(ca.publicKey.export({ type: "spki", format: "der" })).digest("base64");
    return [`--ignore-certificate-errors-spki-list=${hash}`];
  };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           ...(lan ? [`--host-resolver-rules=MAP ${lanName} 127.0.0.1`] : []), ...(https ? trustCa() : [])],
  });  // playwright-core gives every launch a fresh, empty profile of its own
  return { port, origin: `${scheme}://${lanName ?? "127.0.0.1"}:${port}`, command, browser, quit: () => harness.stdin.write("quit\n"),
           caFile: https ? path.join(tlsDir, "ca.crt") : undefined };
}

const pageErrors = [];  // uncaught exceptions in the pages: any one fails the scenario

// Every page's uncaught exceptions fail the scenario; its failed requests are logged, to say why.
function watch(page) {
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.on("requestfailed", (request) => {
    const error = request.failure()?.errorText;
    if (error !== "net::ERR_ABORTED") console.log(`request failed: ${request.method()} ${request.url()}: ${error}`);  // aborted: the page went
  });
  return page;
}

// A page in a fresh browser context (cookies, storage, permissions of its own).
export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  return watch(await context.newPage());
}

// A page in a fresh browser context as on a phone: 390 x 800 CSS pixels, a touch screen (so
// `pointer: coarse`), mobile layout; `options` add to or replace those (colorScheme, ...).
export async function newPhonePage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true, ...options });
  return watch(await context.newPage());
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

// Opens the page at `origin`, logs in with `key` when the page asks for one, and waits for the
// model list.
export async function openChat(page, origin, key) {
  await page.goto(`${origin}/`);
  if (key) {
    await until("the login view", () => page.locator("#login").isVisible());
    await logIn(page, key);
  }
  await until("the model list", async () => (await page.locator("#model option").count()) > 0);
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
