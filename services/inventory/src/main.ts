import path from "node:path";
import { runService } from "@shop/runtime";
import { loadInventoryConfig } from "./config.js";
import { buildInventory } from "./server.js";

await runService(() => ({
  context: "inventory",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadInventoryConfig(),
  start: buildInventory,
}));
