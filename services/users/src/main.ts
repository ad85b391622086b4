import path from "node:path";
import { runService } from "@shop/runtime";
import { loadUsersConfig } from "./config.js";
import { buildUsers } from "./server.js";

await runService(() => ({
  context: "users",
  serviceDir: path.resolve(import.meta.dirname, ".."),
  config: loadUsersConfig(),
  start: buildUsers,
}));
