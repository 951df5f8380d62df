// The page's screenshots for review: desktop and phone, light and dark, with a reply that has
// thinking, a table, math and code; the phone's open sidebar; a reply waiting for its first token.
// Usage: node screens.e2e.mjs <e2e_harness> <output dir> [<LAN name> [https]] (see e2e_support.mjs)
// Exits non-zero on the first failed check; leaves the PNGs named in `shots` in the output dir.
import path from "node:path";
import { check, lan, newKey, newPage, newPhonePage, openChat, outDir, runScenario, startSluice, until } from "./e2e_support.mjs";

const key = newKey();
const sluice = await startSluice(lan ? [`lan:${key}`] : []);
const { command } = sluice;

// A reply as a model writes one: inline thinking, then markdown with a table, math and code.
// (No TeX command may start with \n: the harness reads "\n" as a newline.)
const reply = `<think>
The user wants sorting algorithms compared. A table of their costs, the formula for quicksort's expected comparisons, and a short merge sort should do.
</think>
## Sorting, compared

Three comparison sorts, all $O(n \\log n)$ on average:

| Algorithm | Average | Worst | Stable |
|---|---|---|---|
| Quicksort | $O(n \\log n)$ | $O(n^2)$ | no |
| Merge sort | $O(n \\log n)$ | $O(n \\log n)$ | yes |
| Heapsort | $O(n \\log n)$ | $O(n \\log n)$ | no |

Quicksort's expected number of comparisons on $n$ distinct keys is

$$
C(n) = 2(n+1)H_n - 4n \\approx 1.39\\, n \\log_2 n
$$

\`\`\`python
def merge_sort(items: list[int]) -> list[int]:
    """Sorts items, keeping equal ones in their order."""
    if len(items) <= 1:
        return items
    middle = len(items) // 2
    left, right = merge_sort(items[:middle]), merge_sort(items[middle:])
    merged = []
    while left and right:
        merged.append((left if left[0] <= right[0] else right).pop(0))
    return merged + left + right
\`\`\`

> Merge sort is the one to pick when equal keys must keep their order.
`;
// One streamed line per word (with its spaces), as the fake's knobs take them: tab-separated.
const knobs = (interval, text) => {
  const pieces = text.match(/\S+\s*|\s+/g).map((piece) => piece.replaceAll("\n", "\\n"));
  return `knobs ${interval} ${pieces.length} ${pieces.join("\t")}`;
};

const shots = [];
// A screenshot of the whole conversation: the viewport grows to hold the messages unscrolled.
async function shoot(page, name, { whole = true } = {}) {
  if (whole) {
    const extra = await page.locator("#messages").evaluate((m) => m.scrollHeight - m.clientHeight);
    const size = page.viewportSize();
    if (extra > 0) await page.setViewportSize({ width: size.width, height: size.height + extra });
  }
  await page.screenshot({ path: path.join(outDir, name) });
  shots.push(name);
}

// Asks the question and waits for the finished reply, typeset and highlighted.
async function askRichReply(page) {
  await command(knobs(5, reply));
  await page.fill("#input", "Compare quicksort, merge sort and heapsort");
  await page.locator("#send").click();
  const last = page.locator(".message.assistant").last();
  await until("the finished reply, typeset", async () =>
    (await page.locator("#stop").isHidden()) && (await last.locator(".katex-display").count()) === 1, 15000);
  await page.evaluate(() => document.fonts.ready);
  check((await last.locator("details").textContent()).includes("sorting algorithms compared") &&
        (await last.locator("table tbody tr").count()) === 3 && (await last.locator("table .katex").count()) === 6 &&
        (await last.locator("pre code.language-python .hljs-keyword").count()) > 0 && (await last.locator("pre .copy").count()) === 1,
        "the reply has its thinking, a table with math, a typeset formula and highlighted code");
  await last.locator("details summary").click();  // the thinking, open for the screenshot
}

await runScenario(sluice, async () => {
  const desktop = await newPage(sluice.browser);
  await openChat(desktop, sluice.origin, lan ? key : undefined);
  await askRichReply(desktop);
  for (const scheme of ["light", "dark"]) {
    await desktop.emulateMedia({ colorScheme: scheme });
    await desktop.setViewportSize({ width: 1100, height: 760 });
    await shoot(desktop, `desktop-${scheme}.png`);
  }

  // Waiting for the first token (the fake's first line is empty: the first word comes 4 s later).
  await desktop.emulateMedia({ colorScheme: "light" });
  await desktop.setViewportSize({ width: 1100, height: 760 });
  await command("knobs 4000 2 \tLater.");
  await desktop.fill("#input", "A long prompt that takes a while to read");
  await desktop.press("#input", "Enter");
  const waiting = desktop.locator(".message.assistant .waiting").last();
  await until("a second of waiting", async () => /· [1-9]\d* s$/.test(await waiting.textContent()), 4000);
  await shoot(desktop, "desktop-waiting-light.png", { whole: false });
  await desktop.click("#stop");

  const phone = await newPhonePage(sluice.browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await openChat(phone, sluice.origin, lan ? key : undefined);
  await askRichReply(phone);
  for (const scheme of ["light", "dark"]) {
    await phone.emulateMedia({ colorScheme: scheme });
    await phone.setViewportSize({ width: 390, height: 844 });
    await shoot(phone, `phone-${scheme}.png`);
  }
  await phone.emulateMedia({ colorScheme: "light" });
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.tap("#menu");
  check(await phone.locator("#sidebar").isVisible(), "the phone's sidebar opens");
  await shoot(phone, "phone-sidebar-light.png", { whole: false });
  console.log(`screenshots in ${outDir}: ${shots.join(" ")}`);
});
