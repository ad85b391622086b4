import { randomUUID } from "node:crypto";
import { metadataKeys } from "../request-context.js";

/** Metadata the gateway would set for an authenticated caller. */
export function callerHeaders(userId: string = randomUUID(), role: "customer" | "admin" = "customer"): Record<string, string> {
  return { [metadataKeys.userId]: userId, [metadataKeys.role]: role };
}

export const adminHeaders = (userId: string = randomUUID()) => callerHeaders(userId, "admin");
