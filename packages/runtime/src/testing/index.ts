export * from "./databases.js";
export * from "./callers.js";
export * from "./wait.js";
export * from "./outbox.js";
export * from "./services.js";
export * from "./page-tokens.js";
