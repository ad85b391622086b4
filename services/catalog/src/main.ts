import path from "node:path";
import { runService } from "@shop/runtime";
import { loadCatalogConfig } from "./config.js";
import { buildCatalog } from "./server.js";

await runService(() => ({
  context: "catalog",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadCatalogConfig(),
  start: buildCatalog,
}));
