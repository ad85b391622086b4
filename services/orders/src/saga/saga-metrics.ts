import { latencyBuckets, metricsRegistry } from "@shop/runtime";
import { Counter, Gauge, Histogram } from "prom-client";

/** How checkouts end and how long their steps take. */
export const sagaMetrics = {
  outcomes: new Counter({
    name: "saga_outcomes_total",
    help: "Checkout sagas that ended, by result (confirmed, cancelled) and cancellation reason.",
    labelNames: ["result", "reason"] as const,
    registers: [metricsRegistry],
  }),
  stepDuration: new Histogram({
    name: "saga_step_duration_seconds",
    help: "Time a saga action took, retries included, by action and outcome.",
    labelNames: ["action", "outcome"] as const,
    buckets: [...latencyBuckets, 10, 30],
    registers: [metricsRegistry],
  }),
  compensationFailures: new Counter({
    name: "saga_compensation_failures_total",
    help: "Compensations that did not succeed and will be retried, by compensation.",
    labelNames: ["compensation"] as const,
    registers: [metricsRegistry],
  }),
  recordFailures: new Counter({
    name: "saga_record_failures_total",
    help: "Saga steps whose outcome could not be recorded (run again after a backoff), by action.",
    labelNames: ["action"] as const,
    registers: [metricsRegistry],
  }),
  running: new Gauge({
    name: "saga_runs_in_flight",
    help: "Sagas this process holds the lease of and is working on.",
    registers: [metricsRegistry],
  }),
};
