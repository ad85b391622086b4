import path from "node:path";
import { runService } from "@shop/runtime";
import { loadPaymentsConfig } from "./config.js";
import { buildPayments } from "./server.js";

await runService(() => ({
  context: "payments",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadPaymentsConfig(),
  start: buildPayments,
}));
