import { performance } from "node:perf_hooks";

export interface SteadyRateOptions {
  /** Operations started per second, on a fixed schedule whatever their latency (open loop). */
  ratePerSecond: number;
  durationMs: number;
  /** Operations in flight at most; when reached, the schedule slips and `behindMs` says by how much. */
  maxInFlight: number;
}

export interface SteadyRateResult {
  started: number;
  completed: number;
  errors: number;
  firstError?: unknown;
  /** From the first start until the last operation ended. */
  elapsedMs: number;
  /** How far the last start lagged its slot in the schedule: 0 when the rate was held. */
  behindMs: number;
}

/**
 * Starts `operation` at a steady rate for `durationMs` and waits for the last to end. Unlike a
 * closed loop, a slow operation does not slow the arrivals, as with real independent callers.
 */
export async function runAtSteadyRate(operation: () => Promise<void>, options: SteadyRateOptions): Promise<SteadyRateResult> {
  const result: SteadyRateResult = { started: 0, completed: 0, errors: 0, elapsedMs: 0, behindMs: 0 };
  const intervalMs = 1000 / options.ratePerSecond;
  const total = Math.max(1, Math.round((options.ratePerSecond * options.durationMs) / 1000));
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;
  const start = performance.now();
  const launch = () => {
    const slot = start + result.started * intervalMs;
    result.behindMs = Math.max(0, performance.now() - slot);
    result.started++;
    const running = operation().then(
      () => {
        result.completed++;
      },
      (err: unknown) => {
        result.errors++;
        result.firstError ??= err;
      },
    );
    const tracked = running.finally(() => {
      inFlight.delete(tracked);
      slotFreed?.();
    });
    inFlight.add(tracked);
  };
  while (result.started < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
    while (result.started < due && inFlight.size < options.maxInFlight) launch();
    if (result.started >= total) break;
    if (inFlight.size >= options.maxInFlight) {
      await new Promise<void>((resolve) => (slotFreed = resolve));
      slotFreed = undefined;
    } else {
      const nextSlot = start + result.started * intervalMs;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, nextSlot - performance.now())));
    }
  }
  await Promise.all(inFlight);
  result.elapsedMs = performance.now() - start;
  return result;
}
