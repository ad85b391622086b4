import { randomUUID } from "node:crypto";
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import type { Logger } from "@shop/runtime";
import type { OrderRepository, SagaLease, WorkOrigin } from "../db/orders.js";
import { type ClaimedSaga, LeaseLostError, type SagaStore } from "../db/sagas.js";
import type { Order } from "../domain/order.js";
import {
  afterCall,
  afterUnrecordable,
  backoffDelay,
  type Decision,
  decide,
  type Effect,
  initialSagaState,
  type SagaAction,
  type SagaState,
  type StepOutcome,
} from "./checkout-saga.js";
import { sagaMetrics } from "./saga-metrics.js";
import { type SagaStepTrace, traceSagaStep } from "./saga-tracing.js";
import type { SagaStepExecutor } from "./step-executor.js";

export interface SagaRunnerOptions {
  /** How long a claim holds a saga without renewal; a crashed runner's sagas are free again after it. */
  leaseMs: number;
  /** Sagas worked on at once by this runner. */
  concurrency: number;
  /** How often the table is searched for due sagas (new elsewhere, backed off, or of a crashed runner). */
  pollIntervalMs: number;
  /** Backoff between claims for actions that must eventually succeed (past the pivot, compensations). */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Tries of a step whose outcome cannot be recorded before it counts as failed (before the pivot). */
  recordAttempts: number;
}

export interface SagaRunnerDeps {
  sagas: SagaStore;
  orders: OrderRepository;
  executor: SagaStepExecutor;
  logger: Logger;
}

/** The order a run works on, loaded once; the steps' own changes to it are applied as they are recorded. */
interface RunCache {
  order?: Order;
}

/**
 * Drives checkout sagas to their end. Work on a saga happens only under its lease: claimed
 * with `FOR UPDATE SKIP LOCKED`, extended by every recorded step and renewed while a step
 * runs, released when the saga ends, waits or the runner stops; so several orders replicas
 * never run the same saga at once, and a crashed replica's sagas are taken over once its
 * leases expire.
 */
export class SagaRunner {
  /** The lease owner written on claimed sagas; unique per runner. */
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly runs = new Map<string, Promise<void>>();
  private readonly interrupt = new AbortController();
  private readonly log: Logger;
  private reservedSlots = 0;
  private accepting = false;
  private polling = false;
  /** The last poll filled every free slot: more sagas are probably due. */
  private backlog = false;
  private pollTimer?: NodeJS.Timeout;
  private stopped?: Promise<void>;

  constructor(
    private readonly deps: SagaRunnerDeps,
    private readonly options: SagaRunnerOptions,
  ) {
    this.log = deps.logger.child({ component: "saga-runner", owner: this.owner });
    // Every step in flight listens for the runner being stopped.
    setMaxListeners(options.concurrency + 10, this.interrupt.signal);
  }

  /** Resumes every unfinished saga it can claim, then keeps looking for due ones. */
  start(): void {
    this.accepting = true;
    void this.poll();
    this.pollTimer = setInterval(() => void this.poll(), this.options.pollIntervalMs);
  }

  /**
   * Works on the saga of `orderId` at once when it is due, free and a slot is free (new
   * orders do not wait for a poll). Resolves when that work ends; at once if it did not start.
   */
  async runNow(orderId: string): Promise<void> {
    const running = this.runs.get(orderId);
    if (running) return running;
    if (!this.accepting || this.freeSlots() <= 0) return;
    this.reservedSlots += 1;
    let claimed: ClaimedSaga | undefined;
    try {
      claimed = await this.deps.sagas.claim(this.owner, this.options.leaseMs, orderId);
    } catch (err) {
      this.log.error({ err, orderId }, "claiming a saga failed");
    } finally {
      this.reservedSlots -= 1;
    }
    if (claimed) return this.launch(claimed);
  }

  /**
   * Places an order with its saga held for this runner when a slot is free, then runs the saga
   * at once with the order as placed. Without a free slot the saga is placed free, and claimed
   * here if a slot is free by then, else by the next poll of any replica.
   */
  async placeAndRun(
    place: (lease: SagaLease | undefined) => Promise<{ order: Order; created: boolean }>,
    origin: WorkOrigin,
  ): Promise<{ order: Order; created: boolean }> {
    const lease = this.accepting && this.freeSlots() > 0 ? { owner: this.owner, leaseMs: this.options.leaseMs } : undefined;
    if (lease) this.reservedSlots += 1;
    try {
      const placed = await place(lease);
      if (placed.created && lease) {
        const saga: ClaimedSaga = { orderId: placed.order.id, state: initialSagaState, attempts: 0, ...origin };
        void this.launch(saga, { order: placed.order });
      } else if (placed.created) {
        // No slot was free (a poll holds them while it looks): claim the saga once one is.
        void this.runNow(placed.order.id);
      }
      return placed;
    } finally {
      if (lease) this.reservedSlots -= 1;
    }
  }

  /**
   * Stops claiming; runs end at their next step boundary, handing their sagas back. Steps
   * still running after `graceMs` are interrupted and redone by whoever claims next.
   */
  stop(graceMs = 0): Promise<void> {
    this.stopped ??= (async () => {
      this.accepting = false;
      clearInterval(this.pollTimer);
      const interrupt = setTimeout(() => this.interrupt.abort(new Error("saga runner stopping")), graceMs);
      while (this.runs.size > 0) await Promise.allSettled([...this.runs.values()]);
      clearTimeout(interrupt);
    })();
    return this.stopped;
  }

  private freeSlots(): number {
    return this.options.concurrency - this.runs.size - this.reservedSlots;
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.accepting) return;
    this.polling = true;
    try {
      for (;;) {
        const free = this.freeSlots();
        if (free <= 0) break;
        this.reservedSlots += free;
        let claimed: ClaimedSaga[];
        try {
          claimed = await this.deps.sagas.claimDue(this.owner, this.options.leaseMs, free);
        } finally {
          this.reservedSlots -= free;
        }
        claimed.forEach((saga) => void this.launch(saga));
        this.backlog = claimed.length === free;
        if (!this.backlog) break;
      }
    } catch (err) {
      this.log.error({ err }, "polling for due sagas failed");
    } finally {
      this.polling = false;
    }
  }

  private launch(claimed: ClaimedSaga, cache: RunCache = {}): Promise<void> {
    const { orderId } = claimed;
    // Our own run may be between releasing and re-claiming this saga: it finds it taken and ends.
    const previous = this.runs.get(orderId) ?? Promise.resolve();
    const run: Promise<void> = previous
      .then(() => this.drive(claimed, cache))
      .finally(() => {
        if (this.runs.get(orderId) === run) this.runs.delete(orderId);
        sagaMetrics.running.set(this.runs.size);
        if (this.backlog) void this.poll();
      });
    this.runs.set(orderId, run);
    sagaMetrics.running.set(this.runs.size);
    return run;
  }

  private async drive(claimed: ClaimedSaga, cache: RunCache): Promise<void> {
    const origin = { correlationId: claimed.correlationId, traceparent: claimed.traceparent, tracestate: claimed.tracestate };
    let saga: ClaimedSaga | undefined = claimed;
    while (saga) {
      const current: ClaimedSaga = saga;
      try {
        saga = await traceSagaStep(origin, current, (step) => this.advance(current, cache, step));
      } catch (err) {
        saga = undefined;
        if (err instanceof LeaseLostError) {
          this.log.warn({ orderId: current.orderId }, "saga lease lost; another runner continues");
        } else {
          await this.backOff(current, err);
        }
      }
    }
  }

  /**
   * Does the next thing the saga needs: runs its next action, if any, and records where that
   * leaves the saga together with every change that follows without a call (registering the
   * next compensation, ending it). Returns the saga, still held, when there is more to do now.
   */
  private async advance(saga: ClaimedSaga, cache: RunCache, step: SagaStepTrace): Promise<ClaimedSaga | undefined> {
    const { sagas } = this.deps;
    const { orderId } = saga;
    if (!this.accepting) {
      await sagas.release(this.owner, orderId);
      return undefined;
    }
    let next: { state: SagaState; effects: Effect[] } = { state: saga.state, effects: [] };
    let decision = decide(saga.state);
    let called: SagaAction | undefined;
    if (decision.kind === "finished") {
      await sagas.release(this.owner, orderId);
      return undefined;
    }
    if (decision.kind === "call") {
      called = decision.action;
      const outcome = await this.execute(saga, decision.action, cache);
      step.outcome(outcome);
      if (!outcome) {
        await sagas.release(this.owner, orderId);
        return undefined;
      }
      const transition = afterCall(saga.state, decision.action, outcome);
      if (transition.kind === "retry-later") {
        const delayMs = backoffDelay(saga.attempts, this.options.backoffBaseMs, this.options.backoffMaxMs);
        if (saga.state.phase === "COMPENSATING") sagaMetrics.compensationFailures.inc({ compensation: decision.action });
        this.log.error(
          { orderId, action: decision.action, outcome, attempts: saga.attempts + 1, delayMs },
          "saga action did not succeed; retrying",
        );
        await sagas.retryLater(this.owner, orderId, saga.attempts + 1, delayMs);
        step.retryLater(delayMs);
        return undefined;
      }
      next = { state: transition.state, effects: transition.effects };
      decision = decide(next.state);
    }
    ({ next, decision } = settle(next, decision));
    try {
      const continued = await this.recordAndContinue(saga, next, decision, cache);
      step.recorded(next.state);
      return continued;
    } catch (err) {
      if (err instanceof LeaseLostError || !called) throw err;
      return this.unrecorded(saga, called, err, cache);
    }
  }

  /** Records where the saga is now; returns it, still held, when there is more to do at once. */
  private async recordAndContinue(
    saga: ClaimedSaga,
    next: { state: SagaState; effects: Effect[] },
    decision: Decision,
    cache: RunCache,
  ): Promise<ClaimedSaga | undefined> {
    const { orderId } = saga;
    const goOn = decision.kind === "call" && this.accepting;
    const order = next.effects.length > 0 ? await this.orderOf(orderId, cache) : { id: orderId, userId: "", total: null };
    const recorded = await this.deps.sagas.record(
      this.owner,
      order,
      saga.state,
      next.state,
      next.effects,
      goOn ? this.options.leaseMs : undefined,
    );
    this.observe(orderId, next.effects);
    for (const effect of next.effects) {
      if (effect.kind === "priced" && cache.order) cache.order = { ...cache.order, items: effect.priced.lines, total: effect.priced.total };
    }
    if (!goOn) return undefined;
    return { ...saga, state: { ...next.state, cancelRequested: next.state.cancelRequested || recorded.cancelRequested }, attempts: 0 };
  }

  /**
   * The outcome of `action` could not be recorded. The step runs again after a backoff (its
   * calls are idempotent); after `recordAttempts` tries a step before the pivot counts as failed
   * and the saga compensates, so an outcome the database refuses ends the order instead of
   * holding it PENDING.
   */
  private async unrecorded(saga: ClaimedSaga, action: SagaAction, err: unknown, cache: RunCache): Promise<ClaimedSaga | undefined> {
    const attempts = saga.attempts + 1;
    sagaMetrics.recordFailures.inc({ action });
    const transition =
      attempts >= this.options.recordAttempts
        ? afterUnrecordable(saga.state, action, `its outcome could not be recorded: ${(err as Error).message}`)
        : undefined;
    if (transition?.kind !== "advance") return this.backOff(saga, err, action);
    this.log.error({ err, orderId: saga.orderId, action, attempts }, "saga step outcome could not be recorded; the step counts as failed");
    const { next, decision } = settle({ state: transition.state, effects: transition.effects }, decide(transition.state));
    return this.recordAndContinue(saga, next, decision, cache);
  }

  /** Hands the saga back to be run again after a backoff that grows with its attempts: never a hot loop. */
  private async backOff(saga: ClaimedSaga, err: unknown, action?: SagaAction): Promise<undefined> {
    const attempts = saga.attempts + 1;
    const delayMs = backoffDelay(attempts, this.options.backoffBaseMs, this.options.backoffMaxMs);
    this.log.error(
      { err, orderId: saga.orderId, action, attempts, delayMs },
      "saga step could not be recorded; it runs again after a backoff",
    );
    await this.deps.sagas.retryLater(this.owner, saga.orderId, attempts, delayMs).catch((retryErr: unknown) => {
      this.log.warn({ err: retryErr, orderId: saga.orderId }, "handing a saga back failed; its lease expires instead");
    });
    return undefined;
  }

  /** Runs one action while keeping the lease; undefined when interrupted (stop or lease lost). */
  private async execute(saga: ClaimedSaga, action: SagaAction, cache: RunCache): Promise<StepOutcome | undefined> {
    const { sagas, executor } = this.deps;
    const { orderId } = saga;
    const order = await this.orderOf(orderId, cache);
    const step = new AbortController();
    const onInterrupt = () => step.abort(this.interrupt.signal.reason);
    this.interrupt.signal.addEventListener("abort", onInterrupt, { once: true });
    if (this.interrupt.signal.aborted) onInterrupt();
    let heldAt = Date.now();
    const renewal = setInterval(() => {
      sagas.renew(this.owner, this.options.leaseMs, orderId).then(
        (held) => {
          if (held) heldAt = Date.now();
          else step.abort(new LeaseLostError(orderId));
        },
        (err: unknown) => {
          this.log.warn({ err, orderId }, "renewing a saga lease failed");
          // Stop before the lease can run out: another runner may take the saga then.
          if (Date.now() - heldAt > (this.options.leaseMs * 2) / 3) step.abort(new LeaseLostError(orderId));
        },
      );
    }, this.options.leaseMs / 3);
    const stopTimer = sagaMetrics.stepDuration.startTimer({ action });
    try {
      const outcome = await executor.execute(action, order, step.signal);
      stopTimer({ outcome: outcome.kind });
      return outcome;
    } catch (err) {
      if (!step.signal.aborted) throw err;
      stopTimer({ outcome: "interrupted" });
      this.log.info({ orderId, action, reason: String(step.signal.reason) }, "saga action interrupted");
      return undefined;
    } finally {
      clearInterval(renewal);
      this.interrupt.signal.removeEventListener("abort", onInterrupt);
    }
  }

  /** The run's order, read once. */
  private async orderOf(orderId: string, cache: RunCache): Promise<Order> {
    cache.order ??= (await this.deps.orders.get(orderId)) ?? undefined;
    if (!cache.order) throw new Error(`order ${orderId} of a saga does not exist`);
    return cache.order;
  }

  private observe(orderId: string, effects: Effect[]): void {
    for (const effect of effects) {
      if (effect.kind === "confirmed") {
        sagaMetrics.outcomes.inc({ result: "confirmed", reason: "" });
        this.log.info({ orderId }, "order confirmed");
      } else if (effect.kind === "cancelled") {
        sagaMetrics.outcomes.inc({ result: "cancelled", reason: effect.reason });
        this.log.info({ orderId, reason: effect.reason }, "order cancelled");
      }
    }
  }
}

/** Applies the changes that need no call, so they are recorded in the same write as what led to them. */
function settle(
  next: { state: SagaState; effects: Effect[] },
  decision: Decision,
): { next: { state: SagaState; effects: Effect[] }; decision: Decision } {
  while (decision.kind === "record") {
    next = { state: decision.state, effects: [...next.effects, ...decision.effects] };
    decision = decide(next.state);
  }
  return { next, decision };
}
