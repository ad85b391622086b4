import { type ActiveSpan, type RequestContext, runWithContext, SpanKind, startSpan } from "@shop/runtime";
import type { ClaimedSaga } from "../db/sagas.js";
import { decide, type SagaAction, type SagaState, type StepOutcome } from "./checkout-saga.js";

const recordOnly = "RECORD";

/** Span name and constant attributes per action, made once. */
const shapes = new Map<SagaAction | typeof recordOnly, { name: string; attributes: { "saga.step": string } }>();
function shapeOf(step: SagaAction | typeof recordOnly) {
  let shape = shapes.get(step);
  if (!shape) shapes.set(step, (shape = { name: step === recordOnly ? "saga record" : `saga ${step}`, attributes: { "saga.step": step } }));
  return shape;
}

/**
 * What one step of a saga did, on its span: `saga.outcome` (succeeded, rejected, failed,
 * exhausted, interrupted) and its detail, the backoff before the step runs again
 * (`saga.retry.delay_ms`), and the state recorded after it (`saga.status`, `saga.reason`), so a
 * saga's history reads from its trace.
 */
export class SagaStepTrace {
  private failure?: string;

  constructor(private readonly span?: ActiveSpan) {}

  outcome(outcome: StepOutcome | undefined): void {
    if (outcome?.kind === "failed" || outcome?.kind === "exhausted") this.failure = outcome.detail;
    if (!this.span?.recording) return;
    this.span.span.setAttribute("saga.outcome", outcome?.kind ?? "interrupted");
    if (outcome && outcome.kind !== "succeeded") this.span.span.setAttribute("saga.outcome.detail", outcome.detail);
    if (outcome?.kind === "rejected") this.span.span.setAttribute("saga.outcome.reason", outcome.reason);
  }

  retryLater(delayMs: number): void {
    if (this.span?.recording) this.span.span.setAttribute("saga.retry.delay_ms", delayMs);
  }

  recorded(state: SagaState): void {
    if (!this.span?.recording) return;
    this.span.span.setAttribute("saga.status", state.phase);
    if (state.reason) this.span.span.setAttribute("saga.reason", state.reason);
  }

  end(error?: unknown): void {
    this.span?.end(error ?? (this.failure === undefined ? undefined : new Error(this.failure)));
  }
}

/**
 * Runs one advance of `saga` in a span of its own (`saga PRICE`, ...: the action its state calls
 * for, with `shop.order.id`, `saga.attempt` and `saga.phase`), a child of the work that placed
 * the order, so its downstream calls and the events it records nest under the step.
 */
export async function traceSagaStep<T>(origin: RequestContext, saga: ClaimedSaga, work: (step: SagaStepTrace) => Promise<T>): Promise<T> {
  const decision = decide(saga.state);
  if (decision.kind === "finished") return runWithContext(origin, () => work(new SagaStepTrace()));
  const shape = shapeOf(decision.kind === "call" ? decision.action : recordOnly);
  const span = startSpan(shape.name, SpanKind.INTERNAL, origin, shape.attributes);
  if (span.recording) {
    span.span.setAttributes({ "shop.order.id": saga.orderId, "saga.attempt": saga.attempts + 1, "saga.phase": saga.state.phase });
  }
  const step = new SagaStepTrace(span);
  try {
    const result = await runWithContext({ ...origin, traceparent: span.carrier.traceparent }, () => work(step));
    step.end();
    return result;
  } catch (err) {
    step.end(err);
    throw err;
  }
}
