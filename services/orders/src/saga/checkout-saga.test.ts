import { describe, expect, it } from "vitest";
import {
  afterCall,
  backoffDelay,
  decide,
  type Effect,
  initialSagaState,
  type SagaAction,
  type SagaState,
  type StepOutcome,
} from "./checkout-saga.js";
import type { PricedOrder } from "./pricing.js";

const priced: PricedOrder = {
  lines: [
    {
      productId: "p1",
      quantity: 2,
      name: "Mug",
      unitPrice: { currency: "USD", amountMinor: 500n },
      lineTotal: { currency: "USD", amountMinor: 1000n },
    },
  ],
  total: { currency: "USD", amountMinor: 1000n },
};

const ok: StepOutcome = { kind: "succeeded" };

interface Trace {
  /** Everything that happened, in order: `call X`, `record <phase>/<step>/[compensations]`, `retry X`. */
  log: string[];
  calls: SagaAction[];
  effects: Effect[];
  state: SagaState;
}

const describeState = (s: SagaState) => `${s.phase}/${s.step ?? "-"}/[${s.compensations.join(",")}]`;

/**
 * Drives the machine the way the runner does, answering each call with `answer` (which may
 * return a different outcome on later attempts of the same action), until it finishes.
 */
function simulate(
  answer: (action: SagaAction, attempt: number) => StepOutcome,
  start: SagaState = initialSagaState,
  maxTurns = 100,
): Trace {
  const trace: Trace = { log: [], calls: [], effects: [], state: start };
  const attempts = new Map<SagaAction, number>();
  for (let turn = 0; turn < maxTurns; turn++) {
    const decision = decide(trace.state);
    if (decision.kind === "finished") return trace;
    if (decision.kind === "record") {
      trace.state = decision.state;
      trace.effects.push(...decision.effects);
      trace.log.push(`record ${describeState(decision.state)}`);
      continue;
    }
    const attempt = (attempts.get(decision.action) ?? 0) + 1;
    attempts.set(decision.action, attempt);
    trace.calls.push(decision.action);
    trace.log.push(`call ${decision.action}`);
    const transition = afterCall(trace.state, decision.action, answer(decision.action, attempt));
    if (transition.kind === "retry-later") {
      trace.log.push(`retry ${decision.action}`);
      continue;
    }
    trace.state = transition.state;
    trace.effects.push(...transition.effects);
    trace.log.push(`record ${describeState(transition.state)}`);
  }
  throw new Error(`saga did not finish in ${maxTurns} turns: ${trace.log.join(" | ")}`);
}

const answers =
  (special: Partial<Record<SagaAction, StepOutcome | ((attempt: number) => StepOutcome)>>) =>
  (action: SagaAction, attempt: number): StepOutcome => {
    const found = special[action];
    if (typeof found === "function") return found(attempt);
    if (found) return found;
    return action === "PRICE" ? { kind: "succeeded", priced } : ok;
  };

describe("checkout saga: forward path", () => {
  it("runs every step in order and confirms, registering each compensation before its step", () => {
    const trace = simulate(answers({}));
    expect(trace.calls).toEqual(["PRICE", "AUTHORIZE", "RESERVE", "SHIP", "CAPTURE", "COMMIT"]);
    expect(trace.log).toEqual([
      "call PRICE",
      "record FORWARD/AUTHORIZE/[]",
      "record FORWARD/AUTHORIZE/[VOID_PAYMENT]",
      "call AUTHORIZE",
      "record FORWARD/RESERVE/[VOID_PAYMENT]",
      "record FORWARD/RESERVE/[VOID_PAYMENT,RELEASE_STOCK]",
      "call RESERVE",
      "record FORWARD/SHIP/[VOID_PAYMENT,RELEASE_STOCK]",
      "record FORWARD/SHIP/[VOID_PAYMENT,RELEASE_STOCK,CANCEL_SHIPMENT]",
      "call SHIP",
      "record FORWARD/CAPTURE/[VOID_PAYMENT,RELEASE_STOCK,CANCEL_SHIPMENT]",
      "call CAPTURE",
      // Past the pivot nothing is undone any more.
      "record FORWARD/COMMIT/[]",
      "call COMMIT",
      "record CONFIRMED/-/[]",
    ]);
    expect(trace.effects).toEqual([{ kind: "priced", priced }, { kind: "confirmed" }]);
    expect(decide(trace.state)).toEqual({ kind: "finished" });
  });

  it("does not register a compensation twice when resumed between registering and calling", () => {
    const resumed: SagaState = { ...initialSagaState, step: "AUTHORIZE", compensations: ["VOID_PAYMENT"] };
    expect(decide(resumed)).toEqual({ kind: "call", action: "AUTHORIZE" });
  });

  it("refuses a PRICE success without a price snapshot", () => {
    expect(() => afterCall(initialSagaState, "PRICE", ok)).toThrow(/snapshot/);
  });

  it("refuses an outcome for an action the state did not ask for", () => {
    expect(() => afterCall(initialSagaState, "CAPTURE", ok)).toThrow(/not what a FORWARD saga runs/);
  });
});

describe("checkout saga: failures before the pivot compensate in reverse", () => {
  it.each([
    ["PRICE", { kind: "rejected", reason: "PRODUCT_UNAVAILABLE", detail: "gone" }, [], "PRODUCT_UNAVAILABLE"],
    ["PRICE", { kind: "exhausted", detail: "catalog down" }, [], "PRODUCT_UNAVAILABLE"],
    ["AUTHORIZE", { kind: "rejected", reason: "PAYMENT_DECLINED", detail: "CARD_DECLINED" }, ["VOID_PAYMENT"], "PAYMENT_DECLINED"],
    ["AUTHORIZE", { kind: "exhausted", detail: "payments down" }, ["VOID_PAYMENT"], "PAYMENT_FAILED"],
    ["AUTHORIZE", { kind: "failed", detail: "INVALID_ARGUMENT" }, ["VOID_PAYMENT"], "PAYMENT_FAILED"],
    [
      "RESERVE",
      { kind: "rejected", reason: "INSUFFICIENT_STOCK", detail: "short" },
      ["RELEASE_STOCK", "VOID_PAYMENT"],
      "INSUFFICIENT_STOCK",
    ],
    ["SHIP", { kind: "exhausted", detail: "shipping down" }, ["CANCEL_SHIPMENT", "RELEASE_STOCK", "VOID_PAYMENT"], "SHIPPING_FAILED"],
    ["CAPTURE", { kind: "failed", detail: "FAILED_PRECONDITION" }, ["CANCEL_SHIPMENT", "RELEASE_STOCK", "VOID_PAYMENT"], "PAYMENT_FAILED"],
  ] as const)("%s %o -> compensations %o, CANCELLED %s", (step, outcome, compensations, reason) => {
    const trace = simulate(answers({ [step]: outcome }));
    const failedAt = trace.calls.indexOf(step);
    expect(trace.calls.slice(failedAt + 1)).toEqual(compensations);
    expect(trace.state).toMatchObject({ phase: "CANCELLED", reason, compensations: [] });
    expect(trace.effects.filter((e) => e.kind !== "priced")).toEqual([{ kind: "cancelled", reason }]);
  });

  it("retries a failing compensation until it succeeds, never skipping it", () => {
    const trace = simulate(
      answers({
        RESERVE: { kind: "rejected", reason: "INSUFFICIENT_STOCK", detail: "short" },
        RELEASE_STOCK: (attempt) => (attempt < 4 ? { kind: "exhausted", detail: "inventory down" } : ok),
        VOID_PAYMENT: (attempt) => (attempt < 2 ? { kind: "failed", detail: "INTERNAL" } : ok),
      }),
    );
    expect(trace.calls.slice(3)).toEqual([
      "RELEASE_STOCK",
      "RELEASE_STOCK",
      "RELEASE_STOCK",
      "RELEASE_STOCK",
      "VOID_PAYMENT",
      "VOID_PAYMENT",
    ]);
    expect(trace.log.filter((line) => line.startsWith("retry"))).toHaveLength(4);
    expect(trace.state).toMatchObject({ phase: "CANCELLED", reason: "INSUFFICIENT_STOCK" });
  });
});

describe("checkout saga: the pivot", () => {
  it("keeps retrying CAPTURE while only transient errors come back", () => {
    const trace = simulate(answers({ CAPTURE: (attempt) => (attempt < 3 ? { kind: "exhausted", detail: "payments down" } : ok) }));
    expect(trace.calls.filter((c) => c === "CAPTURE")).toHaveLength(3);
    expect(trace.state.phase).toBe("CONFIRMED");
  });

  it("only moves forward after CAPTURE: COMMIT is retried whatever it answers", () => {
    const trace = simulate(
      answers({
        COMMIT: (attempt) =>
          attempt === 1 ? { kind: "failed", detail: "NOT_FOUND" } : attempt < 4 ? { kind: "exhausted", detail: "down" } : ok,
      }),
    );
    expect(trace.calls.slice(-4)).toEqual(["COMMIT", "COMMIT", "COMMIT", "COMMIT"]);
    expect(trace.calls).not.toContain("VOID_PAYMENT");
    expect(trace.state.phase).toBe("CONFIRMED");
  });
});

describe("checkout saga: customer cancellation", () => {
  it("stops a PENDING saga at the next step boundary and undoes what was done", () => {
    const beforeShip: SagaState = {
      ...initialSagaState,
      step: "SHIP",
      compensations: ["VOID_PAYMENT", "RELEASE_STOCK"],
      cancelRequested: true,
    };
    const trace = simulate(answers({}), beforeShip);
    expect(trace.calls).toEqual(["RELEASE_STOCK", "VOID_PAYMENT"]);
    expect(trace.state).toMatchObject({ phase: "CANCELLED", reason: "CUSTOMER_REQUESTED", cancelRequested: false });
    expect(trace.effects).toEqual([{ kind: "cancelled", reason: "CUSTOMER_REQUESTED" }]);
  });

  it("cancels a saga that has done nothing yet without calling anyone", () => {
    const trace = simulate(answers({}), { ...initialSagaState, cancelRequested: true });
    expect(trace.calls).toEqual([]);
    expect(trace.state).toMatchObject({ phase: "CANCELLED", reason: "CUSTOMER_REQUESTED" });
  });

  it("lets a request that comes after CAPTURE confirm first, then cancels the shipment and refunds", () => {
    const afterCapture: SagaState = { ...initialSagaState, step: "COMMIT", compensations: [], cancelRequested: true };
    const trace = simulate(answers({}), afterCapture);
    expect(trace.calls).toEqual(["COMMIT", "CANCEL_SHIPMENT", "REFUND_PAYMENT"]);
    expect(trace.effects).toEqual([{ kind: "confirmed" }, { kind: "cancelled", reason: "CUSTOMER_REQUESTED" }]);
    expect(trace.state).toMatchObject({ phase: "CANCELLED", reason: "CUSTOMER_REQUESTED" });
  });

  it("cancels a CONFIRMED order: shipment first, then the refund, retried until it succeeds", () => {
    const confirmed: SagaState = { ...initialSagaState, phase: "CONFIRMED", step: null, cancelRequested: true };
    const trace = simulate(answers({ REFUND_PAYMENT: (attempt) => (attempt < 3 ? { kind: "exhausted", detail: "down" } : ok) }), confirmed);
    expect(trace.calls).toEqual(["CANCEL_SHIPMENT", "REFUND_PAYMENT", "REFUND_PAYMENT", "REFUND_PAYMENT"]);
    expect(trace.state).toMatchObject({ phase: "CANCELLED", reason: "CUSTOMER_REQUESTED" });
  });

  it("keeps the order CONFIRMED and says why when the shipment was already dispatched", () => {
    const confirmed: SagaState = { ...initialSagaState, phase: "CONFIRMED", step: null, cancelRequested: true };
    const trace = simulate(
      answers({ CANCEL_SHIPMENT: { kind: "rejected", reason: "SHIPMENT_DISPATCHED", detail: "already dispatched" } }),
      confirmed,
    );
    expect(trace.calls).toEqual(["CANCEL_SHIPMENT"]);
    expect(trace.effects).toEqual([]);
    expect(trace.state).toMatchObject({ phase: "CONFIRMED", cancelRequested: false, cancelRejection: "already dispatched" });
    expect(decide(trace.state)).toEqual({ kind: "finished" });
  });

  it("ignores a request while already compensating: the first reason stands", () => {
    const compensating: SagaState = {
      ...initialSagaState,
      phase: "COMPENSATING",
      step: null,
      compensations: ["VOID_PAYMENT"],
      reason: "PAYMENT_DECLINED",
      cancelRequested: true,
    };
    const trace = simulate(answers({}), compensating);
    expect(trace.calls).toEqual(["VOID_PAYMENT"]);
    expect(trace.state.reason).toBe("PAYMENT_DECLINED");
  });
});

describe("backoff with full jitter", () => {
  it("stays within [0, min(max, base * 2^attempt))", () => {
    expect(backoffDelay(0, 50, 2000, () => 0.999)).toBe(49);
    expect(backoffDelay(3, 50, 2000, () => 0.5)).toBe(200);
    expect(backoffDelay(10, 50, 2000, () => 0.999)).toBe(1998);
    expect(backoffDelay(5000, 50, 2000, () => 0)).toBe(0);
  });
});
