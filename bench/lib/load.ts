import { performance } from "node:perf_hooks";
import { type LatencySummary, summarize } from "./percentiles.js";

export interface LoadOptions {
  /** Calls kept in flight at once (closed loop: each worker starts its next call when one ends). */
  concurrency: number;
  /** Calls made first and not measured, so JIT, connections and pools settle. */
  warmupMs: number;
  durationMs: number;
  /** Called right before and right after the measured phase, e.g. to sample CPU time over it alone. */
  onMeasureStart?: () => void;
  onMeasureEnd?: () => void;
}

export interface LoadResult {
  /** Successful calls in the measured phase. */
  calls: number;
  /** Failed calls in both phases: a benchmark that errs measures the wrong thing. */
  errors: number;
  firstError?: unknown;
  elapsedMs: number;
  callsPerSecond: number;
  latencyMs: LatencySummary;
}

interface Phase {
  latencies: number[];
  errors: number;
  firstError?: unknown;
  elapsedMs: number;
}

async function runPhase(call: () => Promise<unknown>, concurrency: number, durationMs: number): Promise<Phase> {
  const phase: Phase = { latencies: [], errors: 0, elapsedMs: 0 };
  const start = performance.now();
  const end = start + durationMs;
  const worker = async () => {
    while (performance.now() < end) {
      const began = performance.now();
      try {
        await call();
        phase.latencies.push(performance.now() - began);
      } catch (err) {
        phase.errors++;
        phase.firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  phase.elapsedMs = performance.now() - start;
  return phase;
}

/** Drives `call` with a fixed number of concurrent callers: a warm-up, then a measured phase. */
export async function runLoad(call: () => Promise<unknown>, options: LoadOptions): Promise<LoadResult> {
  const warmup = await runPhase(call, options.concurrency, options.warmupMs);
  options.onMeasureStart?.();
  const measured = await runPhase(call, options.concurrency, options.durationMs);
  options.onMeasureEnd?.();
  return {
    calls: measured.latencies.length,
    errors: warmup.errors + measured.errors,
    firstError: warmup.firstError ?? measured.firstError,
    elapsedMs: measured.elapsedMs,
    callsPerSecond: (measured.latencies.length * 1000) / measured.elapsedMs,
    latencyMs: summarize(measured.latencies),
  };
}
