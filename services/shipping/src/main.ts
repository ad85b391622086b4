import path from "node:path";
import { runService } from "@shop/runtime";
import { loadShippingConfig } from "./config.js";
import { buildShipping } from "./server.js";

await runService(() => ({
  context: "shipping",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadShippingConfig(),
  start: buildShipping,
}));
