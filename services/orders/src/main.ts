import path from "node:path";
import { runService } from "@shop/runtime";
import { loadOrdersConfig } from "./config.js";
import { buildOrders } from "./server.js";

await runService(() => ({
  context: "orders",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadOrdersConfig(),
  start: (deps) => buildOrders(deps),
}));
