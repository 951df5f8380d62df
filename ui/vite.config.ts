// Vite: the page is served by sluice under /_sluice/ (index.html also at / for browsers).
// `npx vite` serves it with reload and passes the API and the WebSocket to a running sluice.
import { defineConfig } from "vite";

const sluice = process.env.SLUICE_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  base: "/_sluice/",
  build: { outDir: process.env.SLUICE_UI_OUT ?? "dist", emptyOutDir: true, assetsDir: "assets" },
  server: {
    proxy: {
      "/api": sluice,
      "/_sluice/ws": { target: sluice.replace(/^http/, "ws"), ws: true },
    },
  },
});
