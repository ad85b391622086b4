export * from "./callers.js";
export * from "./credentials.js";
export * from "./databases.js";
export * from "./nats.js";
export * from "./outbox.js";
export * from "./page-tokens.js";
export * from "./services.js";
export * from "./wait.js";
