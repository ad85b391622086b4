import type { CancellationReason } from "../domain/order.js";
import type { PricedOrder } from "./pricing.js";

/**
 * The checkout saga as a pure state machine: given the persisted state it says what to do
 * next, and given the outcome of a downstream call it says what the state becomes. The
 * runner persists every state it returns before acting on it, so a crash at any point
 * resumes from the last recorded step.
 */

export type ForwardStep = "PRICE" | "AUTHORIZE" | "RESERVE" | "SHIP" | "CAPTURE" | "COMMIT";
export type Compensation = "VOID_PAYMENT" | "RELEASE_STOCK" | "CANCEL_SHIPMENT" | "REFUND_PAYMENT";
export type SagaAction = ForwardStep | Compensation;

/**
 * FORWARD: running `step`. COMPENSATING: undoing `compensations`, newest first.
 * CANCELLING: a customer cancels a confirmed order; its shipment is cancelled first, since
 * a dispatched parcel makes the cancellation impossible. CONFIRMED and CANCELLED are final,
 * except that a cancellation request reopens a CONFIRMED saga.
 */
export type SagaPhase = "FORWARD" | "COMPENSATING" | "CANCELLING" | "CONFIRMED" | "CANCELLED";

export interface SagaState {
  phase: SagaPhase;
  /** The next forward step while FORWARD. */
  step: ForwardStep | null;
  /** Compensations registered so far, oldest first. */
  compensations: Compensation[];
  /** Why the saga is compensating, or why it was cancelled. */
  reason: CancellationReason | null;
  /** Set by CancelOrder; consumed at the next step boundary. */
  cancelRequested: boolean;
  /** Why the last cancellation of a confirmed order was refused; empty otherwise. */
  cancelRejection: string;
}

export type Rejection = CancellationReason | "SHIPMENT_DISPATCHED";

export type StepOutcome =
  /** The call took effect. PRICE carries the price snapshot. */
  | { kind: "succeeded"; priced?: PricedOrder }
  /** A definite business answer: declined, out of stock, unknown product, already dispatched. */
  | { kind: "rejected"; reason: Rejection; detail: string }
  /** A permanent error: retrying the same call cannot help. */
  | { kind: "failed"; detail: string }
  /** Transient errors used up the step's retry budget. */
  | { kind: "exhausted"; detail: string };

/** Changes to the order that commit in the same transaction as the saga state. */
export type Effect = { kind: "priced"; priced: PricedOrder } | { kind: "confirmed" } | { kind: "cancelled"; reason: CancellationReason };

export type Decision =
  | { kind: "finished" }
  /** Record `state` (and its effects) without calling anything, then decide again. */
  | { kind: "record"; state: SagaState; effects: Effect[] }
  | { kind: "call"; action: SagaAction };

export type Transition =
  | { kind: "advance"; state: SagaState; effects: Effect[] }
  /** Nothing changes; the same action runs again after a backoff. */
  | { kind: "retry-later" };

export const initialSagaState: SagaState = {
  phase: "FORWARD",
  step: "PRICE",
  compensations: [],
  reason: null,
  cancelRequested: false,
  cancelRejection: "",
};

const nextStep: Record<ForwardStep, ForwardStep | null> = {
  PRICE: "AUTHORIZE",
  AUTHORIZE: "RESERVE",
  RESERVE: "SHIP",
  SHIP: "CAPTURE",
  CAPTURE: "COMMIT",
  COMMIT: null,
};

/** The compensation a step needs, registered before the step runs so that a crash mid-call is still undone. */
const compensationOf: Partial<Record<ForwardStep, Compensation>> = {
  AUTHORIZE: "VOID_PAYMENT",
  RESERVE: "RELEASE_STOCK",
  SHIP: "CANCEL_SHIPMENT",
};

/** The reason recorded when a step fails for good without a business answer. */
const failureReasonOf: Record<Exclude<ForwardStep, "COMMIT">, CancellationReason> = {
  PRICE: "PRODUCT_UNAVAILABLE",
  AUTHORIZE: "PAYMENT_FAILED",
  // The contract has no reason for an unreachable inventory: the stock could not be secured.
  RESERVE: "INSUFFICIENT_STOCK",
  SHIP: "SHIPPING_FAILED",
  CAPTURE: "PAYMENT_FAILED",
};

/** CAPTURE is the pivot: once the money is taken, the saga only moves forward. */
const pivot: ForwardStep = "CAPTURE";

/** Only COMMIT comes after the pivot; a cancellation request stops the saga before it. */
const isBeforePivot = (step: ForwardStep) => step !== "COMMIT";

function compensate(state: SagaState, reason: CancellationReason): { state: SagaState; effects: Effect[] } {
  if (state.compensations.length === 0) {
    return { state: { ...state, phase: "CANCELLED", step: null, reason }, effects: [{ kind: "cancelled", reason }] };
  }
  return { state: { ...state, phase: "COMPENSATING", step: null, reason }, effects: [] };
}

export function decide(state: SagaState): Decision {
  switch (state.phase) {
    case "CANCELLED":
      return { kind: "finished" };
    case "CONFIRMED":
      if (!state.cancelRequested) return { kind: "finished" };
      return { kind: "record", state: { ...state, phase: "CANCELLING", cancelRequested: false, cancelRejection: "" }, effects: [] };
    case "CANCELLING":
      return { kind: "call", action: "CANCEL_SHIPMENT" };
    case "COMPENSATING": {
      const last = state.compensations.at(-1);
      if (!last) return { kind: "record", ...compensate(state, state.reason ?? "CUSTOMER_REQUESTED") };
      return { kind: "call", action: last };
    }
    case "FORWARD": {
      const step = state.step!;
      if (state.cancelRequested && isBeforePivot(step)) {
        return { kind: "record", ...compensate({ ...state, cancelRequested: false }, "CUSTOMER_REQUESTED") };
      }
      const registration = compensationOf[step];
      if (registration && !state.compensations.includes(registration)) {
        return { kind: "record", state: { ...state, compensations: [...state.compensations, registration] }, effects: [] };
      }
      return { kind: "call", action: step };
    }
  }
}

function afterForwardStep(state: SagaState, step: ForwardStep, outcome: StepOutcome): Transition {
  if (outcome.kind === "succeeded") {
    if (step === "COMMIT")
      return { kind: "advance", state: { ...state, phase: "CONFIRMED", step: null }, effects: [{ kind: "confirmed" }] };
    if (step === "PRICE" && !outcome.priced) throw new Error("PRICE succeeded without a price snapshot");
    const effects: Effect[] = step === "PRICE" ? [{ kind: "priced", priced: outcome.priced! }] : [];
    // Past the pivot nothing is undone any more.
    const compensations = step === pivot ? [] : state.compensations;
    return { kind: "advance", state: { ...state, step: nextStep[step], compensations }, effects };
  }
  if (step === "COMMIT") return { kind: "retry-later" };
  if (step === pivot && outcome.kind === "exhausted") return { kind: "retry-later" };
  const reason = outcome.kind === "rejected" && outcome.reason !== "SHIPMENT_DISPATCHED" ? outcome.reason : failureReasonOf[step];
  return { kind: "advance", ...compensate(state, reason) };
}

function afterCompensation(state: SagaState, outcome: StepOutcome): Transition {
  if (outcome.kind !== "succeeded") return { kind: "retry-later" };
  const remaining = state.compensations.slice(0, -1);
  return { kind: "advance", ...compensate({ ...state, compensations: remaining }, state.reason ?? "CUSTOMER_REQUESTED") };
}

function afterShipmentCancellation(state: SagaState, outcome: StepOutcome): Transition {
  switch (outcome.kind) {
    case "succeeded":
      return {
        kind: "advance",
        state: { ...state, phase: "COMPENSATING", compensations: ["REFUND_PAYMENT"], reason: "CUSTOMER_REQUESTED" },
        effects: [],
      };
    case "rejected":
      return {
        kind: "advance",
        state: { ...state, phase: "CONFIRMED", cancelRejection: outcome.detail || "the shipment was already dispatched" },
        effects: [],
      };
    default:
      return { kind: "retry-later" };
  }
}

/** The state after `action`, chosen by `decide(state)`, ended with `outcome`. */
export function afterCall(state: SagaState, action: SagaAction, outcome: StepOutcome): Transition {
  if (state.phase === "FORWARD" && action === state.step) return afterForwardStep(state, action, outcome);
  if (state.phase === "COMPENSATING" && action === state.compensations.at(-1)) return afterCompensation(state, outcome);
  if (state.phase === "CANCELLING" && action === "CANCEL_SHIPMENT") return afterShipmentCancellation(state, outcome);
  throw new Error(`${action} is not what a ${state.phase} saga runs`);
}

/**
 * The transition when the outcome of a forward step cannot be recorded however often it is tried
 * (a value the database refuses, say): before the pivot the step counts as failed, and the saga
 * compensates what it registered; from the pivot on nothing is undone, so there is none and the
 * step is tried again later.
 */
export function afterUnrecordable(state: SagaState, action: SagaAction, detail: string): Transition | undefined {
  if (state.phase !== "FORWARD" || action !== state.step || !isBeforePivot(action) || action === pivot) return undefined;
  return afterForwardStep(state, action, { kind: "failed", detail });
}

/** Exponential backoff with full jitter: a random delay in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}
