// The page's features around the chat, end to end against sluice + the fake Ollama (e2e_harness):
// images for a vision model (scaled down in the browser) and text files attached to a message,
// per-chat parameters with presets and the rewriter's plan for them, the Models panel (capabilities,
// the card from /api/show with the model's tuning findings, Delete), a pull's speed and Cancel, and
// tool-call cards with the thinking's duration (injected into the page's WebSocket, as the fake
// cannot send them), and a chat waiting its turn in sluice's line with its place shown.
// Usage: node features.e2e.mjs <e2e_harness> <output dir> [<LAN name> [https]] (see e2e_support.mjs)
import path from "node:path";
import { deflateSync } from "node:zlib";
import { check, lan, newKey, newPage, openChat, outDir, runScenario, sendAndAwaitReply, startSluice, until } from "./e2e_support.mjs";

// A PNG of width x height pixels (a gradient, so that it is a real picture to scale).
function png(width, height) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes) => (bytes.reduce((c, byte) => crcTable[(c ^ byte) & 0xff] ^ (c >>> 8), 0xffffffff) ^ 0xffffffff) >>> 0;
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([length, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);  // 8 bits, RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) rows.set([x % 256, y % 256, 128], y * (width * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", header),
                        chunk("IDAT", deflateSync(rows)), chunk("IEND", Buffer.alloc(0))]);
}

// A JPEG's size, from its start-of-frame marker (SOF0 to SOF2).
function jpegSize(jpeg) {
  for (let at = 2; at + 9 < jpeg.length; at += 2 + jpeg.readUInt16BE(at + 2)) {
    if (jpeg[at] !== 0xff) return undefined;
    if (jpeg[at + 1] >= 0xc0 && jpeg[at + 1] <= 0xc2) return { height: jpeg.readUInt16BE(at + 5), width: jpeg.readUInt16BE(at + 7) };
  }
  return undefined;
}

const key = newKey();  // sluice beyond loopback wants one
// One generation at a time, so a second device's chat waits in sluice's line (e).
const sluice = await startSluice(["--max-generations=1", ...(lan ? [`lan:${key}`] : [])]);
const { command } = sluice;
await runScenario(sluice, async () => {
  await command("vision");  // /api/tags lists qwen2.5vl:7b too, whose card says "vision"
  const page = await newPage(sluice.browser);
  // Only Delete's confirmation may open a dialog: it is answered with `dialogAnswer`.
  const dialogs = [];
  let dialogAnswer = "dismiss";
  page.on("dialog", async (dialog) => {
    dialogs.push(dialog.message());
    await (dialogAnswer === "accept" ? dialog.accept() : dialog.dismiss());
  });
  // The WebSocket to sluice, through the test: while `injecting`, the reply's first content lines
  // become thinking lines and a tool call comes before its last line.
  let injecting = false;
  await page.routeWebSocket("**/_sluice/ws", (ws) => {
    const server = ws.connectToServer();
    let contentLines = 0;
    server.onMessage((text) => {
      const frame = JSON.parse(text);
      const piece = frame.line?.message;
      if (injecting && piece?.content && contentLines++ < 5) {
        frame.line.message = { ...piece, content: "", thinking: piece.content };
      } else if (injecting && frame.line?.done) {
        const call = { function: { name: "get_weather", arguments: { city: "Paris <b>bold</b>", days: 2 } } };
        ws.send(JSON.stringify({ id: frame.id, line: { message: { role: "assistant", content: "", tool_calls: [call] }, done: false } }));
      }
      ws.send(JSON.stringify(frame));
    });
  });
  let savedWithImage = false;  // sluice's conversation store has been sent a chat with an image
  page.on("requestfinished", (request) => {
    if (request.method() === "PUT" && request.url().includes("/_sluice/api/conversations/") && request.postData()?.includes('"images":[')) savedWithImage = true;
  });
  await openChat(page, sluice.origin, lan ? key : undefined);
  const optionTexts = await page.locator("#model option").allTextContents();
  check(optionTexts.some((text) => text.startsWith("qwen2.5vl:7b") && text.endsWith("· vision")) &&
        optionTexts.some((text) => text.startsWith("qwen3:14b ·") && text.endsWith("· thinking · tools")),
        `the picker marks what each model can do (${optionTexts.join(" | ")})`);

  // (a) Images go to a vision model only, scaled down to at most 1536 pixels a side; a text file
  // goes in the message's text.
  await page.selectOption("#model", "qwen3:14b");
  check(await page.locator("#attach").isHidden(), "qwen3:14b (no vision) is offered no Attach button");
  await page.selectOption("#model", "qwen2.5vl:7b");
  check(await page.locator("#attach").isVisible(), "qwen2.5vl:7b (vision) is offered the Attach button");
  await page.setInputFiles("#attach-file", [
    { name: "big.png", mimeType: "image/png", buffer: png(3000, 2000) },
    { name: "notes.md", mimeType: "text/markdown", buffer: Buffer.from("# Notes\nsee ```code```\n") },
  ]);
  await until("the attachments in the composer", async () => (await page.locator("#attached img").count()) === 1 &&
                                                          (await page.locator("#attached .attached-file").count()) === 1);
  check((await page.locator("#attached .attached-file").textContent()).startsWith("notes.md"), "the composer shows a thumbnail and the file's name");
  await command("knobs 10 3 I see a gradient");
  await sendAndAwaitReply(page, "What is in the picture?", "gradient");
  const sent = JSON.parse(await command("last-chat"));
  const question = sent.messages.at(-1);
  const size = question.images?.length === 1 ? jpegSize(Buffer.from(question.images[0], "base64")) : undefined;
  check(sent.model === "qwen2.5vl:7b" && size?.width === 1536 && size?.height === 1024,
        `the image went to Ollama as the message's images, a JPEG scaled from 3000x2000 to ${size?.width}x${size?.height}`);
  check(question.content === "What is in the picture?\n\nnotes.md:\n````md\n# Notes\nsee ```code```\n````",
        `the text file went in the message's text, fenced under its name (${JSON.stringify(question.content)})`);
  check((await page.locator("#attached").isHidden()) && (await page.locator(".message.user .images img").count()) === 1,
        "the sent message shows its image and the composer is empty again");
  await until("sluice's store to have the chat with its image", () => savedWithImage);
  await page.reload();
  await until("the chat with its image after a reload", async () => (await page.locator(".message.user .images img").count()) === 1 &&
                                                                   (await page.locator("#model option").count()) > 0);
  check(await page.locator(".message.user .images img").evaluate((img) => img.naturalWidth === 1536),
        "the image is kept with the chat (shown again after a reload)");

  // (b) The chat's parameters: sent as its options, shown with what the rewriter runs for them.
  await page.click("#new-chat");
  await page.selectOption("#model", "qwen3:14b");
  await page.click("#parameters-box summary");
  await page.getByLabel("temperature", { exact: true }).fill("0.2");
  await page.getByLabel("num_ctx", { exact: true }).fill("4096");
  const panelPlan = page.locator("#parameters-box .plan");
  await until("the plan for the chat's options", async () => (await panelPlan.textContent()) === "→ runs qwen3:14b-q8_0" &&
                                                           (await page.locator("#plan").textContent()) === "→ runs qwen3:14b-q8_0");
  check(true, "with num_ctx set by the chat the rewriter changes only the model, said in the panel and beside the picker");
  check((await page.locator("#parameters-box summary").textContent()) === "Parameters: temperature=0.2 · num_ctx=4096",
        "the panel's title says what is set");
  await command("knobs 10 3 warm answer");
  await sendAndAwaitReply(page, "Hello with options", "answer");
  const withOptions = JSON.parse(await command("last-chat"));
  const sorted = (options) => JSON.stringify(Object.entries(options ?? {}).sort());
  check(sorted(withOptions.options) === sorted({ temperature: 0.2, num_ctx: 4096 }) && withOptions.model === "qwen3:14b-q8_0",
        `the chat's options went to Ollama (${JSON.stringify(withOptions.options)})`);
  await page.fill("#parameters-box .presets input", "precise");
  await page.click("#parameters-box .presets button:has-text('Save as preset')");
  await page.click("#new-chat");
  await until("the plan without options", async () => (await panelPlan.textContent()) === "→ runs qwen3:14b-q8_0 · num_ctx=8192");
  check((await page.getByLabel("temperature", { exact: true }).inputValue()) === "",
        "a new chat has no options of its own (the plan is the rewriter's defaults again)");
  await page.locator("#conversations li span", { hasText: "Hello with options" }).click();
  check((await page.getByLabel("temperature", { exact: true }).inputValue()) === "0.2", "the options are the chat's: shown again when it is opened");
  await page.click("#new-chat");
  await page.selectOption("#parameters-box .presets select", "precise");
  check((await page.getByLabel("num_ctx", { exact: true }).inputValue()) === "4096", "a saved preset applies to another chat");
  await page.click("#parameters-box .presets button:has-text('Delete')");
  check(!(await page.evaluate(() => localStorage.getItem("sluice.presets"))).includes("precise") &&
        (await page.locator("#parameters-box .presets option").count()) === 1, "Delete removes the preset");

  // (c) The Models panel: what each model can do, its card, Delete after a confirmation.
  await page.click("#models-box summary");
  const qwen = page.locator('#models li[data-model="qwen3:14b"]');
  check((await qwen.locator(".badge").allTextContents()).join() === "thinking,tools", "the Models panel shows qwen3:14b's capabilities");
  await qwen.locator(".card summary").click();
  await until("the model's card", async () => (await qwen.locator(".card dl").count()) === 1 && (await qwen.locator(".card dd").count()) > 0);
  const card = await qwen.locator(".card dl").textContent();
  check(card.includes("quantizationQ4_K_M") && card.includes("context length40,960"),
        `the card shows quantization and context length from /api/show (${card})`);
  // The card also shows the tuning check's findings about its model (/_sluice/api/doctor).
  const tuning = (model) => model.locator(".card .findings");
  await until("qwen3:14b's tuning check", async () => (await tuning(qwen).textContent()) !== "checking…");
  check((await tuning(qwen).textContent()) === "nothing found that costs tokens/s",
        `a well-run model's card says its tuning is fine (${await tuning(qwen).textContent()})`);
  await command("offloaded");
  const q8 = page.locator('#models li[data-model="qwen3:14b-q8_0"]');
  await q8.locator(".card summary").click();
  await until("qwen3:14b-q8_0's tuning check", async () => (await tuning(q8).count()) === 1 &&
    (await tuning(q8).textContent()) !== "checking…");
  const finding = await tuning(q8).textContent();
  check(finding.startsWith("costs tokens/s: qwen3:14b-q8_0 has 11.2 GiB of its 34.5 GiB in system memory (num_ctx 131072)") &&
        finding.includes("fix: "), `a model partly on the CPU says so in its card, with the fix (${finding})`);
  const deletes = [];
  page.on("request", (request) => request.url().endsWith("/api/delete") && deletes.push(request));
  await qwen.locator(".delete").click();
  await until("the confirmation", () => dialogs.length === 1);
  check(dialogs[0].startsWith("Delete qwen3:14b from Ollama?") && deletes.length === 0, "Delete asks first, and a No deletes nothing");
  dialogAnswer = "accept";
  const deleting = page.waitForRequest((request) => request.url().endsWith("/api/delete"));
  await qwen.locator(".delete").click();
  const request = await deleting;
  const response = await request.response();
  check(request.method() === "DELETE" && request.postData() === '{"model":"qwen3:14b"}' && response.status() === 200,
        `a confirmed Delete sends DELETE /api/delete (${request.method()} ${request.postData()} → ${response.status()})`);

  // A pull shows its size and speed, and Cancel ends it (the fake sees the stream cancelled).
  const cancelledBefore = Number(await command("cancelled"));
  await command("knobs 1100 3");
  await page.fill("#pull-name", "qwen3:8b");
  await page.click("#pull button[type=submit]");
  const pullStatus = page.locator("#pull-status");
  await until("the pull's speed", async () => / · 1\.0 GB of 9\.3 GB · \d+\.\d MB\/s$/.test(await pullStatus.textContent()), 8000);
  check(true, `the pull shows its size and speed (${await pullStatus.textContent()})`);
  await page.click("#pull-cancel");
  await until("the pull to be cancelled", async () => (await pullStatus.textContent()) === "pull of qwen3:8b cancelled");
  await until("the fake to see the pull cancelled", async () => Number(await command("cancelled")) > cancelledBefore);
  check(await page.locator("#pull-cancel").isHidden(), "Cancel stops the pull: Ollama's stream is closed");

  // (d) A tool call in the stream is a card (text, not HTML), and the thinking block says how
  // long the model thought (first thinking token to first answer token).
  await command("knobs 60 8 tok");
  injecting = true;
  await sendAndAwaitReply(page, "Weather in Paris?", "tok");
  injecting = false;
  const reply = page.locator(".message.assistant").last();
  const toolCard = reply.locator(".tool-call");
  check((await toolCard.locator(".tool-name").textContent()) === "calls get_weather" &&
        (await toolCard.locator("pre").textContent()) === '{\n  "city": "Paris <b>bold</b>",\n  "days": 2\n}' &&
        (await toolCard.locator("b").count()) === 0, "a tool call is shown as a card with its arguments, as text");
  const thought = await reply.locator("details summary").first().textContent();
  const seconds = Number(/^Thought for (\d+\.\d) s$/.exec(thought)?.[1]);
  check(seconds >= 0.2 && seconds < 2, `the thinking block says how long the model thought (${thought})`);
  await page.screenshot({ path: path.join(outDir, "features.png"), fullPage: true });

  // (e) sluice's line: while this page's reply runs (Ollama runs one at a time here), a chat from
  // another device waits, is told its place, and runs once the first reply ends.
  await command("knobs 100 100 slow");  // 10 s unless stopped
  await page.fill("#input", "A long answer, please");
  await page.press("#input", "Enter");
  const running = page.locator(".message.assistant").last().locator(".body");
  await until("the first reply to stream", async () => ((await running.textContent()) ?? "").includes("slow"));
  const other = await newPage(sluice.browser);
  await openChat(other, sluice.origin, lan ? key : undefined);
  await other.selectOption("#model", "qwen3:14b");
  await other.fill("#input", "Me too");
  await other.press("#input", "Enter");
  const otherReply = other.locator(".message.assistant").last();
  const place = otherReply.locator(".waiting");
  await until("the place in line", async () => /^1st in line for qwen3:14b-q8_0 · \d+ s$/.test((await place.textContent()) ?? ""), 5000);
  check(true, `a chat that must wait shows its place in sluice's line (${await place.textContent()})`);
  await page.click("#stop");  // the first reply ends, and the waiting chat's turn comes
  await until("the waiting chat to run", async () => ((await otherReply.locator(".body").textContent()) ?? "").includes("slow"));
  check(true, "when the running reply ends the waiting chat runs");
  await other.click("#stop");
});
