import path from "node:path";
import { runService } from "@shop/runtime";
import { loadNotificationsConfig } from "./config.js";
import { buildNotifications } from "./server.js";

await runService(() => ({
  context: "notifications",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadNotificationsConfig(),
  start: (deps) => buildNotifications(deps),
}));
