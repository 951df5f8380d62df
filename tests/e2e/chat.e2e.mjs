// The browser UI end to end: Debian's chromium (headless, driven by playwright-core) against
// sluice + the fake Ollama (e2e_harness).
// Usage: node chat.e2e.mjs <e2e_harness> <output dir> [<LAN name>] (see e2e_support.mjs)
// Exits non-zero on the first failed check; leaves chat.png and phone.png in the output dir.
import path from "node:path";
import { check, lan, logIn, newKey, newPage, outDir, runScenario, sendAndAwaitReply, sleep, startSluice, until } from "./e2e_support.mjs";

const key = newKey();  // sluice beyond loopback wants one
const sluice = await startSluice(lan ? [`lan:${key}`] : []);
const { port, command } = sluice;
let dialogOpened = false;
await runScenario(sluice, async () => {
  const page = await newPage(sluice.browser);
  page.on("dialog", async (dialog) => {
    dialogOpened = true;
    console.log(`FAILED: a reply opened a dialog: ${dialog.message()}`);
    await dialog.dismiss();
  });
  await page.goto(`${sluice.origin}/`);
  check((await page.title()) === "sluice", "GET / from a browser is the page");
  if (lan) {
    await until("the login view", () => page.locator("#login").isVisible());
    await logIn(page, key);
  }
  await until("the model list", async () => (await page.locator("#model option").count()) > 0);
  check((await page.locator("#model").inputValue()) === "qwen3:14b", "the model picker lists /api/tags");
  const timing = await page.evaluate(() => {
    const at = (entry) => Math.round(entry?.startTime ?? NaN);
    return { firstPaint: at(performance.getEntriesByName("first-contentful-paint")[0]),
             modelsListed: at(performance.getEntriesByName("sluice:models-listed")[0]) };
  });
  console.log(`time to interactive: first contentful paint ${timing.firstPaint} ms, model list filled ${timing.modelsListed} ms`);
  await until("the loaded model (/api/ps)", async () => (await page.locator("#loaded").textContent()).includes("qwen3:14b-q8_0"));
  check(true, "/api/ps's loaded model is shown next to the picker");

  const lastReply = page.locator(".message.assistant").last();
  const replyText = () => lastReply.locator(".body").textContent();
  const userCount = () => page.locator(".message.user").count();

  // 1. A reply streams in: its text is seen growing, not only complete.
  await command("knobs 60 25");
  const partial = await sendAndAwaitReply(page, "hello", "tok24");
  check(partial.length >= 3, `text arrived incrementally (${partial.length} partial states seen)`);
  check((await lastReply.locator(".stats").textContent()).includes("tok/s"), "the reply shows TTFT and tokens/s");
  check((await lastReply.locator(".stats").textContent()).includes("sluice changed: num_ctx=8192"),
        "the reply shows what the rewriter changed");

  // 2. Enter while an input method composes does not send.
  const before = await userCount();
  await page.fill("#input", "nihao");
  await page.dispatchEvent("#input", "keydown", { key: "Enter", keyCode: 229, isComposing: true, bubbles: true });
  await sleep(300);
  check((await userCount()) === before, "Enter during IME composition does not send");
  await page.fill("#input", "");

  // 3. Stop mid-stream closes the fake Ollama's stream.
  await command("knobs 100 1000");
  await page.fill("#input", "a long one");
  await page.press("#input", "Enter");
  await until("some reply text", async () => ((await replyText()) ?? "").includes("tok3"));
  await page.click("#stop");
  await until("the fake Ollama to see the stream cancelled", async () => Number(await command("cancelled")) >= 1, 5000);
  check(true, "Stop closed the upstream stream");
  await until("the send button back", () => page.locator("#send").isVisible());

  // 4. Thinking, inline <think>, is a collapsible block.
  await command("knobs 20 4 <think>\tpondering deeply\t</think>\tThe **answer**.");
  await page.fill("#input", "think");
  await page.press("#input", "Enter");
  await until("the thinking reply", async () => ((await replyText()) ?? "").includes("answer") && (await page.locator("#stop").isHidden()));
  check((await lastReply.locator("details").isVisible()) &&
        (await lastReply.locator("details").textContent()).includes("pondering deeply"), "thinking shows in a <details> block");
  check((await lastReply.locator(".body strong").textContent()) === "answer", "the answer is rendered as markdown");

  // 5. Model output is inert: no handler, script or javascript: URL from a reply runs.
  await page.evaluate(() => { window.__pwned = 0; });
  await command("knobs 10 5 <img src=x onerror=\"window.__pwned=1;alert(1)\">\t<script>window.__pwned=2</script>\t" +
                "[click](javascript:window.__pwned=3)\t<svg onload=\"window.__pwned=4\"></svg>\t hostile done");
  await page.fill("#input", "be evil");
  await page.press("#input", "Enter");
  await until("the hostile reply", async () => ((await replyText()) ?? "").includes("hostile done") && (await page.locator("#stop").isHidden()));
  await lastReply.locator("a").first().click().catch(() => {});
  await sleep(300);
  check((await page.evaluate(() => window.__pwned)) === 0, "no script or handler from the reply ran");
  check((await page.locator("#messages script, #messages [onerror], #messages [onload]").count()) === 0,
        "the reply's DOM has no script or event handler attributes");
  check(!dialogOpened, "no dialog opened");

  // 6. System prompt and think switch go into the request; regenerate replaces the last reply.
  const lastChat = async () => JSON.parse(await command("last-chat"));
  const finished = (text) => async () => ((await replyText()) ?? "").includes(text) && (await page.locator("#stop").isHidden());
  await page.click("#new-chat");
  await page.click("#system-box summary");
  await page.fill("#system", "You are terse.");
  await page.selectOption("#think", "off");
  await command("knobs 10 2 first take");
  await page.fill("#input", "with system");
  await page.press("#input", "Enter");
  await until("the reply with a system prompt", finished("first take"));
  let request = await lastChat();
  check(request.messages[0].role === "system" && request.messages[0].content === "You are terse.",
        "the conversation's system prompt is sent first");
  check(request.think === false, "think off sends \"think\":false");
  await page.selectOption("#think", "auto");
  await command("knobs 10 2 second take");
  await page.click(".message.assistant .regenerate");
  await until("the regenerated reply", finished("second take"));
  request = await lastChat();
  check(!("think" in request), "think auto leaves \"think\" out");
  check((await page.locator(".message.assistant").count()) === 1 && !(await replyText()).includes("first take"),
        "regenerate replaces the last reply");

  // 7. Edit-and-resend: the edited message replaces the old one and everything after it.
  await page.click(".message.user .edit");
  check((await page.inputValue("#input")) === "with system", "edit puts the message back in the composer");
  await page.selectOption("#think", "on");
  await page.fill("#input", "edited question");
  await page.press("#input", "Enter");
  await until("the reply to the edited message", finished("second take"));
  request = await lastChat();
  check((await userCount()) === 1 && (await page.locator(".message.user .body").textContent()) === "edited question" &&
        request.messages.at(-1).content === "edited question" && request.think === true,
        "edit-and-resend sends the edited message in place of the old one (think on: \"think\":true)");

  // 8. A code block has a copy button that puts its text on the clipboard (at a LAN name, without
  // navigator.clipboard). The test reads the clipboard from a page at 127.0.0.1, which has it.
  const secureOrigin = `http://127.0.0.1:${port}`;
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: secureOrigin });
  await command("knobs 10 1 Code:\\n\\n```js\\nconst answer = 42;\\n```\\n");
  await page.fill("#input", "code please");
  await page.press("#input", "Enter");
  await until("the code reply", async () => (await lastReply.locator("pre .copy").count()) === 1);
  await lastReply.locator("pre .copy").click();
  await until("the copy to finish", async () => (await lastReply.locator("pre .copy").textContent()) === "Copied");
  const reader = await page.context().newPage();
  await reader.goto(`${secureOrigin}/api/version`);
  const copied = await reader.evaluate(() => navigator.clipboard.readText());
  await reader.close();
  check(copied.includes("const answer = 42;"), "the copy button put the code on the clipboard");

  // 9. A model pull shows its progress while it streams.
  await command("knobs 300 1");
  await page.fill("#pull-name", "qwen3:8b");
  await page.click("#pull button");
  const fractions = new Set();
  await until("the pull to succeed", async () => {
    fractions.add(await page.locator("#pull-progress").evaluate((bar) => bar.value));
    return (await page.locator("#pull-status").textContent()) === "success";
  });
  check([...fractions].some((f) => f > 0 && f < 1) && (await page.locator("#pull-progress").evaluate((bar) => bar.value)) === 1,
        `the pull's progress bar moved (${[...fractions].map((f) => f.toFixed(2)).join(" ")})`);

  // 10. Conversations: rename, search.
  await page.locator("#conversations li").first().locator(".rename").click();
  await page.fill(".rename-field", "Renamed chat");
  await page.press(".rename-field", "Enter");
  check((await page.locator("#conversations li span").first().textContent()) === "Renamed chat", "a conversation can be renamed");
  await page.fill("#search", "EDITED question");
  check((await page.locator("#conversations li").count()) === 1 &&
        (await page.locator("#conversations li span").textContent()) === "Renamed chat", "search finds a chat by its messages");
  await page.fill("#search", "");

  await page.screenshot({ path: path.join(outDir, "chat.png"), fullPage: true });
  console.log(`screenshot: ${path.join(outDir, "chat.png")}`);

  // 11. At phone width the sidebar hides behind a button.
  await page.setViewportSize({ width: 390, height: 800 });
  check(await page.locator("#sidebar").isHidden(), "at phone width the sidebar is hidden");
  await page.click("#menu");
  check(await page.locator("#sidebar").isVisible(), "the menu button shows the sidebar");
  await page.screenshot({ path: path.join(outDir, "phone.png") });
  await page.locator("#conversations li span").first().click();
  check(await page.locator("#sidebar").isHidden(), "picking a conversation hides the sidebar again");
  check(!dialogOpened, "no dialog opened later either");
});
