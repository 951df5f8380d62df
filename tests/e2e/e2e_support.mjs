// e2e_support: what the browser tests share. The harness (sluice + fake Ollama, commanded over
// stdin), Debian's chromium through playwright-core, and checks that stop the test on failure.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../ui/package.json"));  // playwright-core lives in ui/
const { chromium } = require("playwright-core");

// Starts e2e_harness with `args` (its API keys); resolves once it listens.
export async function startHarness(harnessPath, args = []) {
  const harness = spawn(harnessPath, args, { stdio: ["pipe", "pipe", "inherit"] });
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
  return { port, command, quit: () => harness.stdin.write("quit\n") };
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });  // playwright-core gives every launch a fresh, empty profile of its own
}

// Runs `scenario` (its checks throw on the first failure), then closes the browser and the
// harness, and exits 1 if a check failed, else 0.
export async function runScenario(browser, quit, scenario) {
  let failed = false;
  try {
    await scenario();
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
  if (!condition) throw new Error(`FAILED: ${what}`);
  console.log(`ok: ${what}`);
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(what, predicate, timeoutMs = 10000) {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(50)) {
    if (await predicate()) return;
  }
  throw new Error(`FAILED: timed out waiting for ${what}`);
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
