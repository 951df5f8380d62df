// The browser page's login end to end: sluice with API keys (auth.keys) in front of the fake
// Ollama, driven in Debian's chromium.
// Usage: node login.e2e.mjs <e2e_harness> <output dir> [<LAN name> [https]] (see e2e_support.mjs)
// Exits non-zero on the first failed check; leaves login.png in the output dir.
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { check, https, logIn, newKey, newPage, outDir, runScenario, sendAndAwaitReply, sleep, startSluice, until } from "./e2e_support.mjs";

const laptopKey = newKey();
const phoneKey = newKey();  // chat routes only, and only llama models
const sluice = await startSluice([`laptop:${laptopKey}`, `phone:${phoneKey}:chat:llama*`]);
const { origin, command, port, caFile } = sluice;
await runScenario(sluice, async () => {
  const page = await newPage(sluice.browser);
  const context = page.context();
  const framesReceived = [];
  page.on("websocket", (socket) => socket.on("framereceived", (frame) => framesReceived.push(frame.payload)));
  const loginShown = () => page.locator("#login").isVisible();
  const modelCount = () => page.locator("#model option").count();
  const sessionCookie = async () => (await context.cookies()).find((cookie) => cookie.name === "sluice_session");
  const statusOf = (target) => page.evaluate(async (url) => (await fetch(url)).status, target);

  // 1. Without a session the page asks for a key and shows no chat.
  await page.goto(`${origin}/`);
  check((await page.title()) === "sluice", "GET / from a browser is the page (public)");
  await until("the login view", loginShown);
  check((await page.locator("#login-key").getAttribute("type")) === "password", "the key field is a password field");
  check((await modelCount()) === 0 && (await page.locator("#messages").isHidden()), "no model list and no chat before the login");
  await page.screenshot({ path: path.join(outDir, "login.png") });
  console.log(`screenshot: ${path.join(outDir, "login.png")}`);

  // 2. Enter while an input method composes does not submit; a wrong key shows sluice's error.
  await page.fill("#login-key", "wrong");
  await page.dispatchEvent("#login-key", "keydown", { key: "Enter", keyCode: 229, isComposing: true, bubbles: true });
  await sleep(300);
  check((await page.locator("#login-error").textContent()) === "", "Enter during IME composition does not log in");
  await logIn(page, "sk-sluice-wrong");
  await until("the login error", async () => (await page.locator("#login-error").textContent()) !== "");
  check((await page.locator("#login-error").textContent()) === "sluice: invalid API key", "a wrong key shows sluice's error");
  check(await loginShown(), "a wrong key stays on the login view");

  // 3. The right key: the chat appears, the models fill, no trace of the key is left in the page.
  await logIn(page, laptopKey);
  await until("the model list", async () => (await modelCount()) > 0);
  check(!(await loginShown()) && (await page.locator("#model").inputValue()) === "qwen3:14b", "the right key logs in and lists /api/tags");
  check(await page.locator("#logout").isVisible(), "Log out is offered");
  check(await page.locator("#pull").isVisible(), "a key that may pull is offered Pull");
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }) + document.documentElement.outerHTML);
  check(!stored.includes(laptopKey.slice(10)) && (await page.inputValue("#login-key")) === "", "the key is kept nowhere in the page");

  // 4. The session is an HttpOnly, SameSite=Strict cookie: the script cannot read it.
  const cookie = await sessionCookie();
  check(cookie && cookie.httpOnly && cookie.sameSite === "Strict", "the browser holds sluice_session, HttpOnly and SameSite=Strict");
  check(cookie.secure === https, `the cookie is Secure exactly when the page came over HTTPS (${origin})`);
  check(!(await page.evaluate(() => document.cookie)).includes("sluice_session"), "document.cookie does not show it");

  // 5. A chat streams over the WebSocket, authenticated by the cookie.
  await command("knobs 60 25");
  const partial = await sendAndAwaitReply(page, "hello", "tok24");
  check(partial.length >= 3, `text arrived incrementally (${partial.length} partial states seen)`);
  check(framesReceived.filter((frame) => String(frame).includes('"line"')).length >= 25, "the reply came as WebSocket frames");

  // The chat is the laptop key's, in sluice's conversation store (saved moments after it changes).
  const storedChats = () => page.evaluate(async () => (await (await fetch("/_sluice/api/conversations")).json()).conversations);
  await until("the chat to be saved", async () => (await storedChats()).some((chat) => chat.title === "hello"));
  const laptopChat = (await storedChats()).find((chat) => chat.title === "hello").id;

  // 6. A reload keeps the session.
  await page.reload();
  await until("the model list after the reload", async () => (await modelCount()) > 0);
  check(!(await loginShown()), "after a reload the page is still logged in");
  await until("Log out after the reload", () => page.locator("#logout").isVisible());
  check(true, "after a reload Log out is offered (sluice wants keys)");

  // 7. Log out: the login view returns and the page's requests are refused.
  await page.click("#logout");
  await until("the login view after logging out", loginShown);
  check(!(await sessionCookie()), "logging out removes the cookie");
  check((await statusOf("/api/tags")) === 401, "after logging out /api/tags from the page answers 401");

  // 8. A session that ends behind the page's back: the WebSocket cannot open, the page asks again.
  await logIn(page, laptopKey);
  await until("the model list", async () => (await modelCount()) > 0);
  const ending = await sessionCookie();
  await page.evaluate(() => fetch("/_sluice/logout", { method: "POST" }));  // ends it in sluice...
  await context.addCookies([ending]);                       // ...while the browser still sends it
  await page.fill("#input", "are you there");
  await page.press("#input", "Enter");
  await until("the login view after the session ended", loginShown);
  check(true, "a refused WebSocket upgrade (session ended) brings the login view back");

  // 9. A limited key (only llama* models, and Ollama has none): the model list shows it nothing
  // it may not use, and its refusals (403) are shown where the page shows errors.
  await logIn(page, phoneKey);
  await until("the model list to be read", async () => (await page.locator("#status").textContent()) === "no models installed");
  check((await modelCount()) === 0, "a key limited to llama* models is shown none of Ollama's qwen3 and nomic models");
  await until("Pull to be withdrawn", () => page.locator("#pull").isHidden());
  check(true, "a key that may not pull is offered no Pull (/_sluice/api/me)");
  const refusal = await page.evaluate(async () => {
    const response = await fetch("/api/pull", { method: "POST", body: '{"model":"qwen3:8b"}' });
    return `${response.status} ${await response.text()}`;
  });
  check(refusal === '403 {"error":"sluice: key \\"phone\\" may not use /api/pull"}', `and sluice refuses it all the same (${refusal})`);

  // Another key's conversations are out of its reach: not listed, not found by search, not read,
  // exported or deleted (each 404 or absent), and the sidebar does not show them.
  const asPhone = await page.evaluate(async (id) => {
    const text = async (url, init) => { const response = await fetch(url, init); return `${response.status} ${await response.text()}`; };
    return { list: await text("/_sluice/api/conversations"), search: await text("/_sluice/api/conversations?q=hello"),
             read: await text(`/_sluice/api/conversations/${id}`), exported: await text("/_sluice/api/export"),
             one: await text(`/_sluice/api/conversations/${id}/export?format=markdown`),
             deleted: await text(`/_sluice/api/conversations/${id}`, { method: "DELETE" }) };
  }, laptopChat);
  check(!asPhone.list.includes(laptopChat) && !asPhone.search.includes(laptopChat) && !asPhone.exported.includes(laptopChat),
        "another key's conversation is not listed, found or exported");
  check([asPhone.read, asPhone.one, asPhone.deleted].every((answer) => answer.startsWith("404 ")),
        `nor read, exported alone or deleted (${asPhone.read}; ${asPhone.deleted})`);
  const sidebar = await page.locator("#conversations li").allTextContents();
  check(!sidebar.some((title) => title.includes("hello")), `the sidebar shows none of the laptop's chats (${sidebar.join(" | ")})`);

  // 10. An API client beside the page: ollama-js with the laptop's key lists the models and
  // streams a chat through sluice (over HTTPS trusting only the test CA, as NODE_EXTRA_CA_CERTS).
  // 127.0.0.1: node cannot be told that the LAN name is this machine; the certificate names both.
  const client = path.join(path.dirname(fileURLToPath(import.meta.url)), "ollama_js_client.mjs");
  const clientUrl = `${https ? "https" : "http"}://127.0.0.1:${port}`;
  const answer = JSON.parse(execFileSync(process.execPath, [client, clientUrl, laptopKey],
                                         { env: { ...process.env, ...(caFile ? { NODE_EXTRA_CA_CERTS: caFile } : {}) } }).toString());
  check(answer.models.includes("qwen3:14b") && answer.parts >= 25 && answer.done && answer.content.startsWith("tok0 "),
        `ollama-js lists the models and streams a chat through sluice at ${clientUrl} (${answer.parts} parts)`);
});
