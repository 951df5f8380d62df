// icons: draws the page's icons into public/ (favicon.svg, favicon.ico, icon-192.png,
// icon-512.png) from one SVG mark, rasterized by Debian's chromium. Run after changing the mark:
//   node ui/scripts/icons.mjs
// The PNGs are the manifest's (Add to Home Screen); they fill their square, with the mark inside
// the middle 80%, so a launcher may cut them to any shape ("maskable").
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ui = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const { chromium } = createRequire(path.join(ui, "package.json"))("playwright-core");

const accent = "#2f6fde";
// A gate above running water, on a 64 x 64 grid.
const mark = '<rect x="19" y="11" width="26" height="21" rx="3" fill="#fff"/>' +
  '<path d="M10 42q5.5-5 11 0t11 0 11 0 11 0M10 52q5.5-5 11 0t11 0 11 0 11 0" fill="none" stroke="#fff" stroke-width="4.5" stroke-linecap="round"/>';
const svg = (size, tile) => `<svg xmlns="http://www.w3.org/2000/svg"${size ? ` width="${size}" height="${size}"` : ""} viewBox="0 0 64 64">` +
  (tile ? `<rect width="64" height="64" fill="${accent}"/><g transform="translate(6.4 6.4) scale(.8)">${mark}</g>`
        : `<rect width="64" height="64" rx="14" fill="${accent}"/>${mark}`) + "</svg>\n";

// An .ico holding one PNG (every browser since 2010 reads PNG inside ICO).
function ico(png, size) {
  const header = Buffer.alloc(22);
  header.writeUInt16LE(1, 2);   // type: icon
  header.writeUInt16LE(1, 4);   // one image
  header.writeUInt8(size, 6);
  header.writeUInt8(size, 7);
  header.writeUInt16LE(1, 10);  // planes
  header.writeUInt16LE(32, 12); // bits per pixel
  header.writeUInt32LE(png.length, 14);
  header.writeUInt32LE(22, 18); // offset of the image
  return Buffer.concat([header, png]);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--headless", "--no-sandbox"] });
const page = await browser.newPage();
const draw = async (size, tile) => {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<body style="margin:0">${svg(size, tile)}</body>`);
  return page.screenshot({ omitBackground: true });
};
const out = (name) => path.join(ui, "public", name);
writeFileSync(out("favicon.svg"), svg(0, false));
writeFileSync(out("favicon.ico"), ico(await draw(32, false), 32));
writeFileSync(out("icon-192.png"), await draw(192, true));
writeFileSync(out("icon-512.png"), await draw(512, true));
await browser.close();
