import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { codeName, errors, httpStatusOf, isTransient, publicError } from "./errors.js";

describe("error vocabulary", () => {
  it("names codes in snake_case and maps them to HTTP as the public API documents", () => {
    expect([Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition, Code.DeadlineExceeded].map(codeName)).toEqual([
      "invalid_argument",
      "not_found",
      "failed_precondition",
      "deadline_exceeded",
    ]);
    expect(
      [
        Code.InvalidArgument,
        Code.Unauthenticated,
        Code.PermissionDenied,
        Code.NotFound,
        Code.AlreadyExists,
        Code.FailedPrecondition,
        Code.ResourceExhausted,
        Code.Unavailable,
        Code.DeadlineExceeded,
        Code.Internal,
      ].map(httpStatusOf),
    ).toEqual([400, 401, 403, 404, 409, 412, 429, 503, 504, 500]);
  });

  it("prefixes invalid-argument messages with the field", () => {
    expect(errors.invalidArgument("items[0].quantity", "must be positive").rawMessage).toBe("items[0].quantity: must be positive");
  });

  it("retries only transient codes", () => {
    expect(isTransient(errors.unavailable("x"))).toBe(true);
    expect(isTransient(new ConnectError("x", Code.DeadlineExceeded))).toBe(true);
    expect(isTransient(errors.failedPrecondition("x"))).toBe(false);
    expect(isTransient(new Error("x"))).toBe(false);
  });

  it("hides non-Connect errors behind a bare INTERNAL", () => {
    const hidden = publicError(new Error('relation "users" does not exist'));
    expect(hidden.code).toBe(Code.Internal);
    expect(hidden.rawMessage).toBe("internal error");
    const kept = errors.notFound("order", "o-1");
    expect(publicError(kept)).toBe(kept);
  });
});
