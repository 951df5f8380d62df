// The chats kept by sluice's conversation store, end to end in Debian's chromium: a chat made on
// one device opens on another, an answer keeps its earlier versions and an edited message its
// earlier branch, a save sluice refuses is said and tried again (and survives a reload), export
// then import gives back the same bytes, what a browser kept before goes to sluice once, the
// list comes a page at a time and is searched by sluice, and with the store off the page keeps to
// localStorage as before.
// Usage: node conversations.e2e.mjs <e2e_harness> <output dir> [<LAN name> [https]] (see e2e_support.mjs)
// Exits non-zero on the first failed check.
import { readFile } from "node:fs/promises";
import { check, lan, newKey, newPage, openChat, runScenario, sendAndAwaitReply, startSluice, until } from "./e2e_support.mjs";

const key = newKey();
const sluice = await startSluice(lan ? [`lan:${key}`] : []);
const { origin, command } = sluice;
const pageKey = lan ? key : undefined;

// sluice's answer to a request the page makes (with its session cookie).
const request = (page, path, init = {}) => page.evaluate(async ({ path, init }) => {
  const response = await fetch(path, init);
  return { status: response.status, type: response.headers.get("content-type"),
           disposition: response.headers.get("content-disposition"), body: await response.text() };
}, { path, init });
const stored = async (page) => JSON.parse((await request(page, "/_sluice/api/conversations?limit=200")).body).conversations;
const storedTitles = async (page) => (await stored(page)).map((conversation) => conversation.title);
const storedDocument = async (page, title) => {
  const { id } = (await stored(page)).find((conversation) => conversation.title === title);
  return JSON.parse((await request(page, `/_sluice/api/conversations/${id}`)).body);
};
const listed = (page) => page.locator("#conversations li span").allTextContents();
const modelListed = (page) => until("the model list", async () => (await page.locator("#model option").count()) > 0);
const reload = async (page) => {
  await page.reload();
  await modelListed(page);
};
const replyText = async (page) => (await page.locator(".message.assistant .body").last().textContent()) ?? "";
const replyDone = (page, text) => async () => (await replyText(page)).includes(text) && (await page.locator("#stop").isHidden());
const download = async (page, selector) => {
  const [file] = await Promise.all([page.waitForEvent("download"), page.click(selector)]);
  return { name: file.suggestedFilename(), bytes: await readFile(await file.path()) };
};

await runScenario(sluice, async () => {
  const laptop = await newPage(sluice.browser);
  await openChat(laptop, origin, pageKey);
  const me = JSON.parse((await request(laptop, "/_sluice/api/me")).body);
  check(me.store === true, "/_sluice/api/me says sluice keeps the chats (\"store\": true)");

  // 1. A chat made on one device is kept by sluice: another device (a browser context of its
  // own) has it after a reload, with its messages, and one made later when its window is focused.
  const phone = await newPage(sluice.browser);
  await openChat(phone, origin, pageKey);
  await command("knobs 10 1 kept by sluice");
  await sendAndAwaitReply(laptop, "remember this", "kept by sluice");
  await until("the chat to be stored", async () => (await storedTitles(laptop)).includes("remember this"));
  await reload(phone);
  await until("the chat in the other device's list", async () => (await listed(phone)).includes("remember this"));
  await phone.locator("#conversations li span", { hasText: "remember this" }).click();
  await until("its messages", async () => (await replyText(phone)).includes("kept by sluice"));
  check((await phone.locator(".message.user .body").textContent()) === "remember this",
        "a chat made on one device opens on another after a reload, with its messages");
  check((await phone.evaluate(() => localStorage.getItem("sluice.conversations"))) === null,
        "the other device keeps no copy in localStorage: the chats come from sluice");
  await laptop.click("#new-chat");
  await sendAndAwaitReply(laptop, "a second chat", "kept by sluice");
  await until("the second chat to be stored", async () => (await storedTitles(laptop)).includes("a second chat"));
  await phone.evaluate(() => window.dispatchEvent(new Event("focus")));
  await until("the second chat on the other device", async () => (await listed(phone)).includes("a second chat"));
  check(true, "a chat made on one device appears on another when its window is focused again");

  // 2. Regenerate keeps the earlier answer: ‹ 2/2 ›, and back to the first one, which is then the
  // one sent as history. Edit and send again starts a branch; the earlier one, with its versions,
  // is one click away, and all of it is stored: the other device shows the same.
  await laptop.locator("#conversations li span", { hasText: "remember this" }).click();
  await until("the chat to open", async () => (await replyText(laptop)).includes("kept by sluice"));
  await command("knobs 10 1 second answer");
  await laptop.click(".message.assistant .regenerate");
  await until("the regenerated answer", replyDone(laptop, "second answer"));
  const answerPlace = laptop.locator(".message.assistant .place").first();
  check((await answerPlace.textContent()) === "2/2" && (await laptop.locator(".message.assistant").count()) === 1,
        "after Regenerate the answer shows ‹ 2/2 ›");
  await laptop.click(".message.assistant .previous");
  check((await replyText(laptop)).includes("kept by sluice") && !(await replyText(laptop)).includes("second answer") &&
        (await answerPlace.textContent()) === "1/2", "‹ goes back to the first answer (1/2)");
  await command("knobs 10 1 follow-up answer");
  await sendAndAwaitReply(laptop, "and then?", "follow-up answer");
  const history = JSON.parse(await command("last-chat")).messages.map((message) => message.content);
  check(history.join("|") === "remember this|kept by sluice|and then?", `the answer shown is the one sent as history (${history.join("|")})`);
  await laptop.locator(".message.user .edit").first().click();
  await command("knobs 10 1 branch answer");
  await laptop.fill("#input", "remember that instead");
  await laptop.press("#input", "Enter");
  await until("the answer in the new branch", replyDone(laptop, "branch answer"));
  const branchPlace = laptop.locator(".message.user .place").first();
  check((await branchPlace.textContent()) === "2/2" && (await laptop.locator(".message").count()) === 2,
        "edit and send again starts a branch (2/2) holding only the new message and its answer");
  await laptop.click(".message.user .previous");
  check((await laptop.locator(".message").count()) === 4 && (await branchPlace.textContent()) === "1/2" &&
        (await laptop.locator(".message.user .body").first().textContent()) === "remember this" &&
        (await answerPlace.textContent()) === "1/2", "‹ on the message goes back to the earlier branch, its answer's versions kept");
  await until("the branch switch to be stored", async () => (await storedDocument(laptop, "remember this")).messages[0].branch === 0);
  await reload(phone);
  await phone.locator("#conversations li span", { hasText: "remember this" }).click();
  await until("the chat on the other device", async () => (await phone.locator(".message").count()) === 4);
  check((await phone.locator(".message.user .place").first().textContent()) === "1/2" &&
        (await phone.locator(".message.assistant .place").first().textContent()) === "1/2",
        "versions and branches are stored with the chat: the other device shows them too");

  // 3. While sluice refuses to save (503), the page says the chat is not saved yet and tries
  // again; what it could not save outlives a reload and reaches sluice once sluice takes it.
  const conversationUrl = "**/_sluice/api/conversations/*";
  await laptop.route(conversationUrl, (route) => (route.request().method() === "PUT"
    ? route.fulfill({ status: 503, contentType: "application/json", body: '{"error":"sluice: the conversation store cannot write now (test)"}' })
    : route.continue()));
  await laptop.click("#new-chat");
  await command("knobs 10 1 unsaved answer");
  await sendAndAwaitReply(laptop, "not saved yet", "unsaved answer");
  await until("the page to say it is not saved", () => laptop.locator("#saved").isVisible());
  const savedText = await laptop.locator("#saved").textContent();
  check(savedText === "not saved yet: sluice: the conversation store cannot write now (test) (trying again)",
        `a refused save is said in the header (${savedText})`);
  check((await laptop.locator("#conversations li.unsaved span").textContent()) === "not saved yet", "and marked in the list");
  await reload(laptop);
  await until("the unsaved chat after the reload", async () => (await replyText(laptop)).includes("unsaved answer"));
  check(!(await storedTitles(laptop)).includes("not saved yet"), "after a reload the chat sluice refused is still on the page");
  await laptop.unroute(conversationUrl);
  await laptop.evaluate(() => window.dispatchEvent(new Event("online")));
  await until("the chat to reach sluice", async () => (await storedTitles(laptop)).includes("not saved yet"));
  await until("the header to say nothing", () => laptop.locator("#saved").isHidden());
  const saved = await storedDocument(laptop, "not saved yet");
  check(saved.messages.map((message) => message.content).join("|") === "not saved yet|unsaved answer",
        "once sluice takes it the chat is saved whole, and the page stops saying it is not");

  // 4. Export all, import that file, export again: the same bytes (an import keeps the times).
  // The chat on screen downloads as JSON and as Markdown; a file sluice cannot read is refused.
  await laptop.click("#transfer summary");
  const first = await download(laptop, "#export-all");
  const envelope = JSON.parse(first.bytes.toString("utf8"));
  check(first.name === "sluice-conversations.json" && envelope.sluice_conversations === 1 && envelope.conversations.length === 3,
        `Export all downloads every chat (${first.name}, ${envelope.conversations.length} chats)`);
  await laptop.setInputFiles("#import-file", { name: first.name, mimeType: "application/json", buffer: first.bytes });
  await until("the import", async () => (await laptop.locator("#transfer-status").textContent()) === "Imported 3 chats.");
  const second = await download(laptop, "#export-all");
  check(second.bytes.equals(first.bytes), "export, import, export: byte for byte the same file");
  const json = await download(laptop, "#export-json");
  const markdown = await download(laptop, "#export-markdown");
  const one = JSON.parse(json.bytes.toString("utf8"));
  check(one.conversations.length === 1 && one.conversations[0].conversation.title === "not saved yet" && json.name.endsWith(".json"),
        `the chat on screen exports as JSON (${json.name})`);
  check(markdown.name.endsWith(".md") && markdown.bytes.toString("utf8").includes("unsaved answer"),
        `and as Markdown (${markdown.name})`);
  await laptop.setInputFiles("#import-file", { name: "bad.json", mimeType: "application/json", buffer: Buffer.from('{"conversations":1}') });
  await until("the refusal", async () => (await laptop.locator("#transfer-status").textContent()).startsWith("Import failed: sluice: "));
  check(true, `a file sluice cannot read is refused with sluice's reason (${await laptop.locator("#transfer-status").textContent()})`);

  // 5. What a browser kept before sluice had a store goes there on its first load, once.
  const earlier = [{ id: "kept-in-this-browser", title: "from before the store",
                     messages: [{ role: "user", content: "an old question" }, { role: "assistant", content: "an old answer" }] }];
  const returning = await newPage(sluice.browser);
  await returning.addInitScript((kept) => {
    if (!localStorage.getItem("sluice.conversations.imported")) localStorage.setItem("sluice.conversations", kept);
  }, JSON.stringify(earlier));
  let imports = 0;
  returning.on("request", (sent) => { if (sent.url().endsWith("/_sluice/api/import")) imports++; });
  await openChat(returning, origin, pageKey);
  await until("the earlier chat in the list", async () => (await listed(returning)).includes("from before the store"));
  check((await storedTitles(returning)).includes("from before the store"), "a chat kept in localStorage before is in sluice's list after the load");
  check(await returning.evaluate(() => localStorage.getItem("sluice.conversations") === null && localStorage.getItem("sluice.conversations.imported") !== null),
        "localStorage's chats are marked as imported");
  await reload(returning);
  await until("the earlier chat's messages", async () => (await replyText(returning)).includes("an old answer"));
  check(imports === 1, `they are imported once, not at each load (${imports} imports)`);

  // 6. The search box asks sluice: the laptop finds a chat by words in messages it never loaded.
  await laptop.fill("#search", "old answer");
  await until("sluice's search", async () => (await listed(laptop)).join() === "from before the store");
  check(true, "search finds a chat by its messages through sluice (?q=)");
  await laptop.fill("#search", "");

  // 7. Delete removes a chat from sluice too.
  await laptop.locator("#conversations li", { hasText: "a second chat" }).locator("button[title=Delete]").click();
  await until("the chat to leave sluice", async () => !(await storedTitles(laptop)).includes("a second chat"));
  check(true, "Delete removes the chat from sluice");

  // 8. The list comes a page (50) at a time: More brings the next.
  const many = Array.from({ length: 60 }, (_, i) => ({ created: 1000 + i, updated: 1000 + i,
                                                      conversation: { id: `paged-${i}`, title: `paged chat ${i}`, messages: [] } }));
  const imported = await request(laptop, "/_sluice/api/import", { method: "POST", body: JSON.stringify({ sluice_conversations: 1, conversations: many }) });
  check(imported.body === '{"imported":60}', `60 chats imported through the API (${imported.body})`);
  await reload(laptop);
  await until("the first page", () => laptop.locator("#conversations li.more").isVisible());
  check(!(await listed(laptop)).includes("paged chat 0"), "the list shows the newest chats first, with More");
  await laptop.click("#conversations li.more button");
  await until("the next page", async () => (await listed(laptop)).includes("paged chat 0"));
  check((await laptop.locator("#conversations li.more").count()) === 0, "More brings the rest of the list");

  // 9. With the store off ("store": false) the page keeps the chats in localStorage, as before,
  // and asks nothing of the store.
  // (The page's own fetch rewrites the answer: Playwright's route.fetch cannot reach a LAN name.)
  const local = await newPage(sluice.browser);
  await local.addInitScript(() => {
    const fetchFromSluice = window.fetch;
    window.fetch = async (...args) => {
      const response = await fetchFromSluice(...args);
      if (!String(args[0]).endsWith("/_sluice/api/me") || !response.ok) return response;
      return Response.json({ ...(await response.json()), store: false });
    };
  });
  const storeRequests = [];
  local.on("request", (sent) => { if (/\/_sluice\/api\/(conversations|export|import)/.test(sent.url())) storeRequests.push(sent.url()); });
  await openChat(local, origin, pageKey);
  await command("knobs 10 1 local answer");
  await sendAndAwaitReply(local, "only in this browser", "local answer");
  await reload(local);
  check((await listed(local)).includes("only in this browser") && (await replyText(local)).includes("local answer") &&
        (await local.evaluate(() => localStorage.getItem("sluice.conversations"))).includes("only in this browser"),
        "with the store off a chat is kept in localStorage and is there after a reload");
  check(storeRequests.length === 0 && (await local.locator("#transfer").isHidden()),
        `with the store off the page asks nothing of it and offers no export (${storeRequests.join(", ") || "no request"})`);
});
