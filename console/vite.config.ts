import { defineConfig } from "vite";

/** The console's page: Preact components in src/web, built into dist/ (served by src/server). */
export default defineConfig({
  root: import.meta.dirname,
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  logLevel: "warn",
});
