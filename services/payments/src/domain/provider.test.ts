import { describe, expect, it } from "vitest";
import { decideAuthorization, flakyFailuresBeforeApproval } from "./provider.js";

const limit = 1_000n;
const decide = (token: string, amountMinor = 500n, attempt = 1) => decideAuthorization({ token, amountMinor, attempt }, limit);

describe("simulated provider", () => {
  it("approves tok_visa", () => {
    expect(decide("tok_visa")).toEqual({ outcome: "approved" });
  });

  it("declines tok_decline and unknown tokens as CARD_DECLINED, on every attempt", () => {
    for (const attempt of [1, 2, 5]) {
      expect(decide("tok_decline", 500n, attempt)).toEqual({ outcome: "declined", reason: "CARD_DECLINED" });
      expect(decide("tok_amex", 500n, attempt)).toEqual({ outcome: "declined", reason: "CARD_DECLINED" });
    }
  });

  it("fails tok_flaky transiently on its first attempts, then approves", () => {
    expect(flakyFailuresBeforeApproval).toBe(2);
    expect(decide("tok_flaky", 500n, 1)).toEqual({ outcome: "unavailable" });
    expect(decide("tok_flaky", 500n, 2)).toEqual({ outcome: "unavailable" });
    expect(decide("tok_flaky", 500n, 3)).toEqual({ outcome: "approved" });
    expect(decide("tok_flaky", 500n, 4)).toEqual({ outcome: "approved" });
  });

  it("declines amounts above the limit whatever the token, and accepts the limit itself", () => {
    for (const token of ["tok_visa", "tok_flaky", "tok_decline"]) {
      expect(decide(token, limit + 1n)).toEqual({ outcome: "declined", reason: "AMOUNT_LIMIT_EXCEEDED" });
    }
    expect(decide("tok_visa", limit)).toEqual({ outcome: "approved" });
    expect(decide("tok_visa", 0n)).toEqual({ outcome: "approved" });
  });
});
