import { env, loadConfig } from "@shop/runtime";

/** Load shape shared by the benchmarks, overridable by environment variables. */
export function loadBenchConfig(source: NodeJS.ProcessEnv = process.env, defaults: { warmupMs?: number; rounds?: number } = {}) {
  const config = loadConfig(
    {
      BENCH_WARMUP_MS: env.int(defaults.warmupMs ?? 1_000, { min: 0 }),
      BENCH_DURATION_MS: env.int(5_000, { min: 100 }),
      BENCH_CONCURRENCY: env.int(50, { min: 1 }),
      // Repeating the whole set and taking medians steadies figures on a shared machine.
      BENCH_ROUNDS: env.int(defaults.rounds ?? 1, { min: 1 }),
    },
    source,
  );
  return {
    warmupMs: config.BENCH_WARMUP_MS,
    durationMs: config.BENCH_DURATION_MS,
    concurrency: config.BENCH_CONCURRENCY,
    rounds: config.BENCH_ROUNDS,
  };
}
