import { describe, expect, it } from "vitest";
import { signInDecision } from "./sign-in-throttle.js";

const rules = { maxFailures: 5, windowMs: 60_000 };
const start = new Date("2026-12-04T12:00:00Z");
const at = (ms: number) => new Date(start.getTime() + ms);

describe("sign-in throttle", () => {
  it("lets an account without failures, or with fewer than the limit, try", () => {
    expect(signInDecision(undefined, start, rules)).toEqual({ allowed: true });
    expect(signInDecision({ failures: 4, windowStartedAt: start }, at(1_000), rules)).toEqual({ allowed: true });
  });

  it("refuses an account at the limit until its window ends, saying when", () => {
    expect(signInDecision({ failures: 5, windowStartedAt: start }, at(1_000), rules)).toEqual({ allowed: false, retryAfterSeconds: 59 });
    expect(signInDecision({ failures: 9, windowStartedAt: start }, at(59_500), rules)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(signInDecision({ failures: 5, windowStartedAt: start }, at(60_000), rules)).toEqual({ allowed: true });
  });
});
