/**
 * The simulated card provider: deterministic, chosen by the payment token, so tests and demos
 * can drive every path of the checkout saga.
 */

export const declineReasons = {
  cardDeclined: "CARD_DECLINED",
  amountLimitExceeded: "AMOUNT_LIMIT_EXCEEDED",
} as const;

export type DeclineReason = (typeof declineReasons)[keyof typeof declineReasons];

export type ProviderDecision =
  | { outcome: "approved" }
  | { outcome: "declined"; reason: DeclineReason }
  /** A transient failure: the caller may try again. */
  | { outcome: "unavailable" };

export interface AuthorizationAttempt {
  token: string;
  amountMinor: bigint;
  /** 1-based number of this attempt for the order, failed attempts included. */
  attempt: number;
}

export const simulatedTokens = {
  approve: "tok_visa",
  decline: "tok_decline",
  flaky: "tok_flaky",
} as const;

/** How many attempts of `tok_flaky` fail before one is approved. */
export const flakyFailuresBeforeApproval = 2;

export function decideAuthorization({ token, amountMinor, attempt }: AuthorizationAttempt, amountLimitMinor: bigint): ProviderDecision {
  if (amountMinor > amountLimitMinor) return { outcome: "declined", reason: declineReasons.amountLimitExceeded };
  switch (token) {
    case simulatedTokens.approve:
      return { outcome: "approved" };
    case simulatedTokens.flaky:
      return attempt <= flakyFailuresBeforeApproval ? { outcome: "unavailable" } : { outcome: "approved" };
    default:
      return { outcome: "declined", reason: declineReasons.cardDeclined };
  }
}

/**
 * The simulated provider's reference for one of its operations on a payment, what a real
 * provider returns with each answer. A payment has each operation at most once, so the
 * reference is unique, and a command retried after a conflict makes the same one.
 */
export function simulatedProviderReference(operation: "authorization" | "capture" | "void" | "refund", paymentId: string): string {
  return `sim_${operation}_${paymentId.replaceAll("-", "")}`;
}
