// Vite: the page is served by sluice under /_sluice/ (index.html also at / for browsers).
// `npx vite` serves it with reload and passes the API and the WebSocket to a running sluice.
import { defineConfig, type Plugin } from "vite";

const sluice = process.env.SLUICE_URL ?? "http://127.0.0.1:8434";

// KaTeX's CSS names each font three times (woff2, woff, ttf). Every browser the page supports
// reads woff2, and every file here is embedded in sluice's binary: keep only the woff2 ones.
const katexWoff2Only: Plugin = {
  name: "katex-woff2-only",
  enforce: "pre",
  transform(code, id) {
    if (!/[\\/]katex[\\/]dist[\\/]katex(\.min)?\.css$/.test(id)) return undefined;
    return code.replace(/,\s*url\([^)]*\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, "");
  },
};

export default defineConfig({
  base: "/_sluice/",
  plugins: [katexWoff2Only],
  build: { outDir: process.env.SLUICE_UI_OUT ?? "dist", emptyOutDir: true, assetsDir: "assets" },
  server: {
    proxy: {
      "/api": sluice,
      "/_sluice/ws": { target: sluice.replace(/^http/, "ws"), ws: true },
    },
  },
});
