import type { Order } from "../domain/order.js";
import type { SagaAction, StepOutcome } from "../saga/checkout-saga.js";
import type { SagaStepExecutor } from "../saga/step-executor.js";

/** One downstream action as the saga ran it. */
export interface ExecutedAction {
  orderId: string;
  action: SagaAction;
  runner: string;
  startedAt: number;
  endedAt?: number;
  outcome?: StepOutcome["kind"] | "interrupted";
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((res) => (resolve = res));
  return { promise, resolve };
}

interface Hold {
  action: SagaAction;
  matches: (order: Order) => boolean;
  reached: Deferred<Order>;
  opened: Deferred<void>;
}

/**
 * Stands between the saga and its downstream calls: records every action with its timing,
 * and holds chosen ones until the test opens them (or the runner interrupts them).
 */
export class StepGate {
  readonly executed: ExecutedAction[] = [];
  private readonly holds: Hold[] = [];

  /** Holds `action` of the first order `matches` accepts; `reached` resolves when the saga gets there. */
  hold(action: SagaAction, matches: (order: Order) => boolean): { reached: Promise<Order>; open(): void } {
    const hold: Hold = { action, matches, reached: deferred(), opened: deferred() };
    this.holds.push(hold);
    return { reached: hold.reached.promise, open: () => hold.opened.resolve() };
  }

  /** Wraps the executor of one runner, named so the records tell runners apart. */
  wrap(runner: string) {
    return (inner: SagaStepExecutor): SagaStepExecutor => ({
      execute: async (action, order, signal) => {
        const record: ExecutedAction = { orderId: order.id, action, runner, startedAt: performance.now() };
        this.executed.push(record);
        try {
          const index = this.holds.findIndex((hold) => hold.action === action && hold.matches(order));
          if (index >= 0) {
            const [hold] = this.holds.splice(index, 1);
            hold!.reached.resolve(order);
            await abortable(hold!.opened.promise, signal);
          }
          const outcome = await inner.execute(action, order, signal);
          record.outcome = outcome.kind;
          return outcome;
        } catch (err) {
          record.outcome = "interrupted";
          throw err;
        } finally {
          record.endedAt = performance.now();
        }
      },
    });
  }

  actionsOf(orderId: string): ExecutedAction[] {
    return this.executed.filter((record) => record.orderId === orderId);
  }
}

function abortable(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
