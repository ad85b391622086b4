export * from "./databases.js";
export * from "./callers.js";
