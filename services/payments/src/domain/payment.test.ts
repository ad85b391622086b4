import { describe, expect, it } from "vitest";
import {
  authorizationEvent,
  authorizationOf,
  type CommandContext,
  decide,
  eventsUntil,
  evolve,
  foldPayment,
  InvalidPaymentEvent,
  type Payment,
  type PaymentEvent,
  type PaymentOperation,
  type PaymentStatus,
} from "./payment.js";

const orderId = "00000000-0000-4000-8000-0000000000a1";
const userId = "00000000-0000-4000-8000-0000000000b1";
const paymentId = "00000000-0000-4000-8000-0000000000c1";
const amount = { currency: "USD", amountMinor: 2598n };
const minute = (n: number) => new Date(Date.UTC(2026, 0, 1, 12, n));
const cause = { command: "CapturePayment" as const, correlationId: "req-1" };

const event = (type: PaymentStatus, n: number, overrides: Partial<PaymentEvent> = {}): PaymentEvent => ({
  type,
  paymentId,
  orderId,
  userId,
  amount,
  reason: type === "DECLINED" ? "CARD_DECLINED" : "",
  providerReference: `ref-${n}`,
  cause,
  occurredAt: minute(n),
  ...overrides,
});

const tombstoneEvent = event("VOIDED", 0, { userId: null, amount: null, providerReference: "" });

/** The events that leave a payment in each state. */
const histories: Record<string, PaymentEvent[]> = {
  AUTHORIZED: [event("AUTHORIZED", 1)],
  DECLINED: [event("DECLINED", 1)],
  CAPTURED: [event("AUTHORIZED", 1), event("CAPTURED", 2)],
  VOIDED: [event("AUTHORIZED", 1), event("VOIDED", 2)],
  REFUNDED: [event("AUTHORIZED", 1), event("CAPTURED", 2), event("REFUNDED", 3)],
  tombstone: [tombstoneEvent],
};

const stateOf = (name: string): Payment | null => (name === "none" ? null : foldPayment(histories[name]!));
const states = ["none", ...Object.keys(histories)];
const statuses: PaymentStatus[] = ["AUTHORIZED", "DECLINED", "CAPTURED", "VOIDED", "REFUNDED"];

const context = (n = 9): CommandContext => ({ occurredAt: minute(n), cause, newPaymentId: "00000000-0000-4000-8000-0000000000d1" });

describe("a payment is the fold of its events", () => {
  it("opens with an authorization, holding its amount and user, created and updated when it happened", () => {
    expect(foldPayment(histories.AUTHORIZED!)).toEqual({
      id: paymentId,
      orderId,
      userId,
      status: "AUTHORIZED",
      currency: "USD",
      amountMinor: 2598n,
      declineReason: null,
      createdAt: minute(1),
      updatedAt: minute(1),
    });
  });

  it("opens with a decline, keeping the provider's reason and the amount asked for", () => {
    expect(foldPayment(histories.DECLINED!)).toMatchObject({ status: "DECLINED", declineReason: "CARD_DECLINED", amountMinor: 2598n });
  });

  it("moves on with each later event, keeping what the first said", () => {
    expect(foldPayment(histories.REFUNDED!)).toMatchObject({
      id: paymentId,
      status: "REFUNDED",
      amountMinor: 2598n,
      createdAt: minute(1),
      updatedAt: minute(3),
    });
    expect(foldPayment(histories.VOIDED!)).toMatchObject({ status: "VOIDED", amountMinor: 2598n, updatedAt: minute(2) });
  });

  it("makes a tombstone of a void before any authorization: no user, no amount", () => {
    expect(foldPayment(histories.tombstone!)).toEqual({
      id: paymentId,
      orderId,
      userId: null,
      status: "VOIDED",
      currency: null,
      amountMinor: null,
      declineReason: null,
      createdAt: minute(0),
      updatedAt: minute(0),
    });
  });

  it("is nothing without events", () => {
    expect(foldPayment([])).toBeNull();
  });

  const allowed = new Set([
    "none AUTHORIZED",
    "none DECLINED",
    "none VOIDED",
    "AUTHORIZED CAPTURED",
    "AUTHORIZED VOIDED",
    "CAPTURED REFUNDED",
  ]);
  const invalid = states.flatMap((state) => statuses.map((type) => [state, type] as const)).filter(([s, t]) => !allowed.has(`${s} ${t}`));

  it.each(invalid)("refuses a %s payment followed by a %s event", (state, type) => {
    expect(() => evolve(stateOf(state), event(type, 5))).toThrow(InvalidPaymentEvent);
  });

  it("refuses an authorization or decline without a user or amount", () => {
    expect(() => evolve(null, event("AUTHORIZED", 1, { amount: null }))).toThrow(InvalidPaymentEvent);
    expect(() => evolve(null, event("DECLINED", 1, { userId: null }))).toThrow(/without a user or amount/);
  });
});

describe("commands decide from the folded state", () => {
  // What each operation does to each state: the event it appends, "unchanged", "not found", or the refusal.
  const expected: Record<PaymentOperation, Record<string, string>> = {
    capture: {
      none: "not found",
      AUTHORIZED: "CAPTURED",
      DECLINED: "payment for order %s is DECLINED: only AUTHORIZED payments can be captured",
      CAPTURED: "unchanged",
      VOIDED: "payment for order %s is VOIDED: only AUTHORIZED payments can be captured",
      REFUNDED: "payment for order %s is REFUNDED: only AUTHORIZED payments can be captured",
      tombstone: "payment for order %s is VOIDED: only AUTHORIZED payments can be captured",
    },
    void: {
      none: "VOIDED",
      AUTHORIZED: "VOIDED",
      DECLINED: "unchanged",
      CAPTURED: "payment for order %s is CAPTURED: refund it instead",
      VOIDED: "unchanged",
      REFUNDED: "payment for order %s is REFUNDED: only AUTHORIZED payments can be voided",
      tombstone: "unchanged",
    },
    refund: {
      none: "not found",
      AUTHORIZED: "payment for order %s is AUTHORIZED: only CAPTURED payments can be refunded",
      DECLINED: "payment for order %s is DECLINED: only CAPTURED payments can be refunded",
      CAPTURED: "REFUNDED",
      VOIDED: "payment for order %s is VOIDED: only CAPTURED payments can be refunded",
      REFUNDED: "unchanged",
      tombstone: "payment for order %s is VOIDED: only CAPTURED payments can be refunded",
    },
  };
  const cases = (Object.keys(expected) as PaymentOperation[]).flatMap((operation) =>
    states.map((state) => [operation, state, expected[operation][state]!] as const),
  );

  it.each(cases)("%s of a %s payment: %s", (operation, state, outcome) => {
    const payment = stateOf(state);
    const decision = decide(operation, orderId, payment, context());
    switch (decision.kind) {
      case "append":
        expect(decision.event.type).toBe(outcome);
        // What a command appends always folds.
        expect(evolve(payment, decision.event).status).toBe(outcome);
        break;
      case "unchanged":
        expect(outcome).toBe("unchanged");
        expect(decision.payment).toBe(payment);
        break;
      case "notFound":
        expect(outcome).toBe("not found");
        break;
      case "refused":
        expect(decision.reason).toBe(outcome.replace("%s", orderId));
    }
  });

  it("records the amount, the provider's reference, the cause and the time with a moving event", () => {
    expect(decide("capture", orderId, stateOf("AUTHORIZED"), context(7))).toEqual({
      kind: "append",
      event: {
        type: "CAPTURED",
        paymentId,
        orderId,
        userId,
        amount,
        reason: "",
        providerReference: `sim_capture_${paymentId.replaceAll("-", "")}`,
        cause,
        occurredAt: minute(7),
      },
    });
  });

  it("voids an order with no payment by a tombstone with a payment id of its own and no provider call", () => {
    const decision = decide("void", orderId, null, context());
    expect(decision).toMatchObject({
      kind: "append",
      event: { type: "VOIDED", paymentId: context().newPaymentId, orderId, userId: null, amount: null, providerReference: "" },
    });
  });

  it("answers a repeated authorization with the payment, refuses one after a void, and asks the provider for a first one", () => {
    expect(authorizationOf(null)).toEqual({ kind: "askProvider" });
    for (const state of ["AUTHORIZED", "DECLINED", "CAPTURED", "REFUNDED"]) {
      expect(authorizationOf(stateOf(state))).toEqual({ kind: "unchanged", payment: stateOf(state) });
    }
    for (const state of ["VOIDED", "tombstone"]) {
      expect(authorizationOf(stateOf(state))).toEqual({ kind: "refused", reason: `payment for order ${orderId} was voided` });
    }
  });

  it("makes the provider's answer to a first authorization its event", () => {
    const request = { orderId, userId, amount };
    const approved = authorizationEvent(request, { outcome: "approved" }, context(1));
    expect(approved).toMatchObject({
      type: "AUTHORIZED",
      paymentId: context().newPaymentId,
      userId,
      amount,
      reason: "",
      occurredAt: minute(1),
    });
    expect(approved.providerReference).toMatch(/^sim_authorization_[0-9a-f]{32}$/);
    const declined = authorizationEvent(request, { outcome: "declined", reason: "AMOUNT_LIMIT_EXCEEDED" }, context(1));
    expect(foldPayment([declined])).toMatchObject({ status: "DECLINED", declineReason: "AMOUNT_LIMIT_EXCEEDED", amountMinor: 2598n });
  });
});

describe("a payment as of a time", () => {
  const events = histories.REFUNDED!;

  it("takes the events that had occurred by then", () => {
    expect(eventsUntil(events, minute(0))).toBe(0);
    expect(eventsUntil(events, minute(1))).toBe(1);
    expect(eventsUntil(events, new Date(minute(3).getTime() - 1))).toBe(2);
    expect(eventsUntil(events, minute(60))).toBe(3);
  });

  it("stops at the first event after then, even if a later one carries an earlier time", () => {
    const skewed = [event("AUTHORIZED", 1), event("CAPTURED", 5), event("REFUNDED", 3)];
    expect(eventsUntil(skewed, minute(4))).toBe(1);
  });
});
