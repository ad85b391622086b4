export * from "./outbox.js";
export * from "./subjects.js";
