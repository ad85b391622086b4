import { randomUUID } from "node:crypto";
import { type Code, ConnectError } from "@connectrpc/connect";
import { metadataKeys } from "../request-context.js";

/** Metadata the gateway would set for an authenticated caller. */
export function callerHeaders(userId: string = randomUUID(), role: "customer" | "admin" = "customer"): Record<string, string> {
  return { [metadataKeys.userId]: userId, [metadataKeys.role]: role };
}

export const adminHeaders = (userId: string = randomUUID()) => callerHeaders(userId, "admin");

/** The code and message a call fails with (fails the test if it succeeds). */
export async function failureOf(call: Promise<unknown>): Promise<{ code: Code; message: string }> {
  const err = await call.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => ConnectError.from(err),
  );
  return { code: err.code, message: err.rawMessage };
}
