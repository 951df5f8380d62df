// The browser UI end to end: Debian's chromium (headless, driven by playwright-core) against
// sluice + the fake Ollama (e2e_harness).
// Usage: node chat.e2e.mjs <e2e_harness> <output dir> [<LAN name> [https]] (see e2e_support.mjs)
// Exits non-zero on the first failed check; leaves chat.png and phone.png in the output dir.
import path from "node:path";
import { check, https, lan, logIn, newKey, newPage, newPhonePage, openChat, outDir, runScenario, scheme, sendAndAwaitReply, sleep,
         startSluice, until } from "./e2e_support.mjs";

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
  check((await page.evaluate(() => isSecureContext)) === (!lan || https),
        `a secure context exactly where the browser grants one (${sluice.origin})`);
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
  const options = await page.locator("#model option").evaluateAll((list) => list.map((option) => option.value));
  check(options.join() === "qwen3:14b,qwen3:14b-q8_0", `an embedding-only model is not offered for chat (${options.join()})`);
  await until("the rewriter's plan", async () => (await page.locator("#plan").textContent()) === "→ runs qwen3:14b-q8_0 · num_ctx=8192");
  check(true, "the picker shows the model and settings the rewriter will run (/_sluice/api/explain)");
  await page.click("#doctor-box summary");
  const firstFinding = page.locator("#doctor li").first();
  await until("the tuning check", async () => ((await firstFinding.textContent()) ?? "checking…") !== "checking…");
  const finding = await firstFinding.textContent();
  check(finding.startsWith("advice: Ollama's environment cannot be read here (sluice's server does not read it)") &&
        finding.includes("fix: run `sluice doctor`"), `the tuning check lists the doctor's findings with their fixes (${finding})`);
  await page.click("#doctor-box summary");

  const lastReply = page.locator(".message.assistant").last();
  const replyText = () => lastReply.locator(".body").textContent();
  const userCount = () => page.locator(".message.user").count();
  const cancelledCount = async () => Number(await command("cancelled"));
  const replyDone = (text) => async () => ((await replyText()) ?? "").includes(text) && (await page.locator("#stop").isHidden());

  // 1. A reply streams in: its text is seen growing, not only complete.
  await command("knobs 60 25");
  const partial = await sendAndAwaitReply(page, "hello", "tok24");
  check(partial.length >= 3, `text arrived incrementally (${partial.length} partial states seen)`);
  check((await lastReply.locator(".stats").textContent()).includes("tok/s"), "the reply shows TTFT and tokens/s");
  check((await lastReply.locator(".stats").textContent()).includes("sluice changed: model=qwen3:14b-q8_0; num_ctx=8192"),
        "the reply shows what the rewriter changed");

  // 2. Before the first token the reply shows what Ollama is doing, with the time so far. (The
  // fake's first line has empty content: the first token comes 2.5 s after the request.)
  await command("knobs 2500 2 \tfirst words");
  await page.fill("#input", "wait for it");
  await page.press("#input", "Enter");
  const waiting = lastReply.locator(".waiting");
  await until("the waiting state", () => waiting.isVisible(), 3000);
  const waitingText = await waiting.textContent();
  check(/^qwen3:14b-q8_0: reading the prompt · \d+ s$/.test(waitingText),
        `before the first token the reply says what it waits for, with the time (${waitingText})`);
  await until("the waiting time to count up", async () => /· [1-9]\d* s$/.test(await waiting.textContent()), 4000);
  check(true, "the waiting time counts up");
  await until("the first token", async () => ((await replyText()) ?? "").includes("first words"), 5000);
  check(await waiting.isHidden(), "the waiting state ends with the first token");
  await until("the reply to end", replyDone("first words"));

  // 3. The view follows the stream only while the reader is at the bottom: scrolling up stops it
  // and offers "Jump to latest", which goes back to the newest text and follows again.
  await command("knobs 50 400 A line of streamed text, long enough to take some room on the screen.\\n\\n");
  await page.fill("#input", "a long answer please");
  await page.press("#input", "Enter");
  const messages = page.locator("#messages");
  const scrollState = () => messages.evaluate((m) => ({ top: m.scrollTop, gap: m.scrollHeight - m.scrollTop - m.clientHeight,
                                                         height: m.scrollHeight, client: m.clientHeight }));
  await until("the reply to overflow the view", async () => { const s = await scrollState(); return s.height > s.client + 600; });
  check((await scrollState()).gap < 8, "while the reader is at the bottom, the view follows the stream");
  const box = await messages.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, -400);
  await sleep(400);
  const scrolledUp = await scrollState();
  const lengthThen = ((await replyText()) ?? "").length;
  await sleep(700);
  const later = await scrollState();
  check(scrolledUp.gap > 200 && later.top === scrolledUp.top && later.height > scrolledUp.height &&
        ((await replyText()) ?? "").length > lengthThen,
        `scrolled up, the view stays put while the reply grows (top ${scrolledUp.top} -> ${later.top}, height ${scrolledUp.height} -> ${later.height})`);
  check(await page.locator("#jump").isVisible(), "\"Jump to latest\" appears");
  await page.click("#jump");
  await sleep(500);
  const jumped = await scrollState();
  check(jumped.gap < 8 && jumped.height > later.height && await page.locator("#jump").isHidden(),
        "\"Jump to latest\" goes to the newest text, follows again and hides");
  await page.click("#stop");
  await until("the long reply to stop", () => page.locator("#send").isVisible());

  // 4. Enter while an input method composes does not send.
  const before = await userCount();
  await page.fill("#input", "nihao");
  await page.dispatchEvent("#input", "keydown", { key: "Enter", keyCode: 229, isComposing: true, bubbles: true });
  await sleep(300);
  check((await userCount()) === before, "Enter during IME composition does not send");
  await page.fill("#input", "");

  // 5. Stop mid-stream closes the fake Ollama's stream. The reply says it was stopped, and the
  // code block it stopped inside is marked unfinished, with no Copy button.
  const cancelledBeforeStop = await cancelledCount();
  const codeLines = Array.from({ length: 30 }, (_, i) => `x${i} = ${i}\\n`).join("\t");
  await command(`knobs 100 1000 Here is the code:\\n\\n\`\`\`python\\n\t${codeLines}`);
  await page.fill("#input", "a long one");
  await page.press("#input", "Enter");
  await until("some reply text", async () => ((await replyText()) ?? "").includes("x3 = 3"));
  await page.click("#stop");
  await until("the fake Ollama to see the stream cancelled", async () => (await cancelledCount()) > cancelledBeforeStop, 5000);
  check(true, "Stop closed the upstream stream");
  await until("the send button back", () => page.locator("#send").isVisible());
  check((await lastReply.evaluate((reply) => reply.classList.contains("stopped"))) &&
        (await lastReply.locator(".stopped-note").textContent()).startsWith("Stopped"), "a stopped reply is marked as stopped");
  check((await lastReply.locator("pre.unfinished").count()) === 1 && (await lastReply.locator("pre .copy").count()) === 0,
        "the code block it stopped inside is marked unfinished and has no Copy button");

  // 6. Thinking, inline <think>, is a collapsible block.
  await command("knobs 20 4 <think>\tpondering deeply\t</think>\tThe **answer**.");
  await page.fill("#input", "think");
  await page.press("#input", "Enter");
  await until("the thinking reply", async () => ((await replyText()) ?? "").includes("answer") && (await page.locator("#stop").isHidden()));
  check((await lastReply.locator("details").isVisible()) &&
        (await lastReply.locator("details").textContent()).includes("pondering deeply"), "thinking shows in a <details> block");
  check((await lastReply.locator(".body strong").textContent()) === "answer", "the answer is rendered as markdown");

  // 7. Model output is inert: no handler, script or javascript: URL from a reply runs.
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

  // 8. Switching chats during a stream: the stream goes on and the page says so; back in its
  // chat, it streams on with its Stop. Sending in another chat stops it, and the page says that.
  const cancelledBeforeSwitch = await cancelledCount();
  await page.click("#new-chat");
  await command("knobs 100 100");
  await page.fill("#input", "stream while I look elsewhere");
  await page.press("#input", "Enter");
  await until("the reply to start", async () => ((await replyText()) ?? "").includes("tok2"));
  await page.click("#new-chat");
  const noticeText = () => page.locator("#notice").textContent();
  check((await page.locator(".message").count()) === 0 && await page.locator("#send").isVisible(),
        "New chat during a stream opens an empty chat to write in");
  check((await noticeText()).includes("The reply in “stream while I look elsewhere” goes on in the background"),
        `the page says the reply goes on (${await noticeText()})`);
  const streamingChat = page.locator("#conversations li.streaming span");
  check((await streamingChat.count()) === 1 && (await streamingChat.textContent()) === "stream while I look elsewhere",
        "the sidebar marks the chat whose reply streams");
  await streamingChat.click();
  await until("the reply to stream on", async () => ((await replyText()) ?? "").includes("tok15"));
  check(await page.locator("#stop").isVisible() && (await page.locator("#notice").isHidden()),
        "back in its chat, the reply streams on with its Stop");
  check((await cancelledCount()) === cancelledBeforeSwitch, "switching chats did not stop the stream");
  await page.click("#new-chat");
  await command("knobs 10 2 short answer");
  await page.fill("#input", "something else");
  await page.press("#input", "Enter");
  await until("the other chat's reply", replyDone("short answer"));
  check((await noticeText()) === "Stopped the reply in “stream while I look elsewhere” to answer here.",
        `sending in another chat stops the streaming reply, and the page says so (${await noticeText()})`);
  await until("the fake Ollama to see that stream cancelled", async () => (await cancelledCount()) > cancelledBeforeSwitch, 5000);
  await page.locator("#conversations li span", { hasText: "stream while I look elsewhere" }).click();
  check(await lastReply.evaluate((reply) => reply.classList.contains("stopped")), "that reply is marked as stopped");

  // 9. System prompt and think switch go into the request; regenerate shows a new reply in place
  // of the last, which it keeps as an earlier version (‹ 2/2 ›).
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
  check((await page.locator(".message.assistant").count()) === 1 && !(await replyText()).includes("first take") &&
        (await lastReply.locator(".place").textContent()) === "2/2", "regenerate replaces the last reply, keeping it as version 1/2");

  // 10. Edit-and-resend: the edited message replaces the old one and everything after it, which
  // stays as an earlier branch (‹ 2/2 ›).
  await page.click(".message.user .edit");
  check((await page.inputValue("#input")) === "with system", "edit puts the message back in the composer");
  await page.selectOption("#think", "on");
  await page.fill("#input", "edited question");
  await page.press("#input", "Enter");
  await until("the reply to the edited message", finished("second take"));
  request = await lastChat();
  check((await userCount()) === 1 && (await page.locator(".message.user .body").textContent()) === "edited question" &&
        request.messages.at(-1).content === "edited question" && request.think === true &&
        (await page.locator(".message.user .place").textContent()) === "2/2",
        "edit-and-resend sends the edited message in place of the old one, kept as branch 1/2 (think on: \"think\":true)");

  // 11. A code block has a copy button that puts its text on the clipboard (at a LAN name, without
  // navigator.clipboard). The test reads the clipboard from a page at 127.0.0.1, which has it.
  const secureOrigin = `${scheme}://127.0.0.1:${port}`;
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

  // 12. A model pull shows its progress while it streams.
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

  // 13. Conversations: rename, search.
  await page.locator("#conversations li").first().locator(".rename").click();
  await page.fill(".rename-field", "Renamed chat");
  await page.press(".rename-field", "Enter");
  check((await page.locator("#conversations li span").first().textContent()) === "Renamed chat", "a conversation can be renamed");
  await page.fill("#search", "EDITED question");
  await until("the search (sluice's, once the typing pauses)", async () => (await page.locator("#conversations li").count()) === 1 &&
        (await page.locator("#conversations li span").textContent()) === "Renamed chat");
  check(true, "search finds a chat by its messages");
  await page.fill("#search", "");

  await page.screenshot({ path: path.join(outDir, "chat.png"), fullPage: true });
  console.log(`screenshot: ${path.join(outDir, "chat.png")}`);

  // 14. At phone width the sidebar hides behind a button, which it never covers; it closes on
  // Escape, a tap outside it, New chat and picking a conversation.
  await page.setViewportSize({ width: 390, height: 800 });
  const sidebar = page.locator("#sidebar");
  check(await sidebar.isHidden(), "at phone width the sidebar is hidden");
  await page.click("#menu");
  check(await sidebar.isVisible(), "the menu button shows the sidebar");
  check(await page.locator("#menu").evaluate((menu) => {
    const { x, y, width, height } = menu.getBoundingClientRect();
    return document.elementFromPoint(x + width / 2, y + height / 2) === menu;
  }), "the open sidebar does not cover its button");
  await page.keyboard.press("Escape");
  check(await sidebar.isHidden(), "Escape closes the sidebar");
  await page.click("#menu");
  await page.mouse.click(375, 500);
  check(await sidebar.isHidden(), "a tap outside the sidebar closes it");
  await page.click("#menu");
  await page.click("#menu");
  check(await sidebar.isHidden(), "its button closes it again");
  await page.click("#menu");
  await page.click("#new-chat");
  check(await sidebar.isHidden(), "New chat closes the sidebar");
  await page.click("#menu");
  await page.screenshot({ path: path.join(outDir, "phone.png") });
  await page.locator("#conversations li span").first().click();
  check(await sidebar.isHidden(), "picking a conversation hides the sidebar again");
  check(!dialogOpened, "no dialog opened later either");

  // 15. A phone (touch screen): the model list is asked for again until Ollama answers; Enter
  // on the touch keyboard is a new line and the Send button sends; the page is installable.
  const phone = await newPhonePage(sluice.browser);
  let tagsRefused = 0;
  await phone.route("**/api/tags", (route) => (tagsRefused++ < 2
    ? route.fulfill({ status: 502, contentType: "application/json", body: '{"error":"sluice: cannot reach ollama at 127.0.0.1:11434"}' })
    : route.continue()));
  const statusSeen = new Set();
  await phone.goto(`${sluice.origin}/`);
  if (lan) {
    await until("the login view", () => phone.locator("#login").isVisible());
    await logIn(phone, key);
  }
  await until("the model list after Ollama is back", async () => {
    statusSeen.add(await phone.locator("#status").textContent());
    return (await phone.locator("#model option").count()) > 0;
  }, 8000);
  check([...statusSeen].some((text) => text.startsWith("cannot list models: sluice: cannot reach ollama") && text.includes("trying again")) &&
        (await phone.locator("#status").textContent()) === "",
        `the model list is asked for again until Ollama answers (${tagsRefused} requests; ${[...statusSeen].filter(Boolean).join(" | ")})`);
  check(await phone.evaluate(() => matchMedia("(pointer: coarse)").matches), "the phone's screen is touch-first (pointer: coarse)");
  await phone.fill("#input", "first line");
  await phone.press("#input", "Enter");
  await phone.locator("#input").pressSequentially("second line");
  // (The phone opens on the newest chat sluice keeps, the desktop's: what it sends goes after that.)
  check((await phone.locator(".message.user", { hasText: "first line" }).count()) === 0 &&
        (await phone.inputValue("#input")) === "first line\nsecond line",
        "on a touch keyboard Enter inserts a new line");
  await command("knobs 10 2 phone reply");
  await phone.tap("#send");
  await until("the phone's reply", async () => ((await phone.locator(".message.assistant .body").last().textContent()) ?? "").includes("phone reply"));
  check((await phone.locator(".message.user .body").last().textContent()) === "first line\nsecond line", "the Send button sends it");

  const manifestHref = await phone.locator('link[rel="manifest"]').getAttribute("href");
  const manifest = await phone.evaluate(async (href) => {
    const response = await fetch(href);
    const json = await response.json();
    const icons = await Promise.all(json.icons.map(async (icon) => {
      const iconResponse = await fetch(new URL(icon.src, new URL(href, location.href)));
      const bytes = new DataView(await iconResponse.arrayBuffer());
      const png = bytes.byteLength > 24 && bytes.getUint32(0) === 0x89504e47;
      return { ...icon, status: iconResponse.status, contentType: iconResponse.headers.get("content-type"),
               drawn: png ? `${bytes.getUint32(16)}x${bytes.getUint32(20)}` : icon.sizes };
    }));
    return { status: response.status, json, icons };
  }, manifestHref);
  check(manifest.status === 200 && manifest.json.display === "standalone" && manifest.json.start_url === "/",
        `the page links a manifest (${manifestHref}): standalone, opening at /`);
  const pngs = manifest.icons.filter((icon) => icon.type === "image/png");
  check(manifest.icons.every((icon) => icon.status === 200 && icon.contentType === icon.type && icon.drawn === icon.sizes) &&
        ["192x192", "512x512"].every((size) => pngs.some((icon) => icon.sizes === size)),
        `its icons are served, PNGs of 192 and 512 pixels (${manifest.icons.map((i) => `${i.src} ${i.status} ${i.contentType} ${i.drawn}`).join(", ")})`);
  const cdp = await phone.context().newCDPSession(phone);
  const { errors: manifestErrors } = await cdp.send("Page.getAppManifest");
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
  // (Playwright's contexts are incognito ones, where Chromium installs nothing: not the page's doing.)
  const installErrors = installabilityErrors.map((error) => error.errorId).filter((id) => id !== "in-incognito");
  check(manifestErrors.length === 0, "Chromium reads the manifest without errors");
  if (!lan || https) check(installErrors.length === 0, `Chromium finds the page installable (${installErrors.join(", ") || "no obstacle"})`);
  else check(installErrors.every((id) => id === "not-from-secure-origin"),
             `over plain http at a LAN name the only obstacle to installing is the insecure origin (${installErrors.join(", ")})`);
  await phone.unroute("**/api/tags");  // under Playwright's interception Chromium fails a fetch of /favicon.ico
  const favicon = await phone.evaluate(async () => {
    const response = await fetch("/favicon.ico").catch((error) => ({ status: String(error), headers: new Headers() }));
    const bytes = new Uint8Array(response.arrayBuffer ? await response.arrayBuffer() : 0);
    return { status: response.status, contentType: response.headers.get("content-type"), ico: bytes[2] === 1 && bytes[3] === 0 };
  });
  check(favicon.status === 200 && favicon.contentType === "image/x-icon" && favicon.ico,
        `sluice serves /favicon.ico (${favicon.status} ${favicon.contentType})`);
});
