import { Counter, Gauge } from "prom-client";
import { metricsRegistry } from "../metrics.js";

/** Event backbone metrics, registered in the process-wide `metricsRegistry`. */
export const eventMetrics = {
  outboxPublished: new Counter({
    name: "outbox_events_published_total",
    help: "Outbox rows published to JetStream, by event type.",
    labelNames: ["type"] as const,
    registers: [metricsRegistry],
  }),
  outboxPublishErrors: new Counter({
    name: "outbox_publish_errors_total",
    help: "Outbox rows whose publish failed and stay queued for the next attempt.",
    registers: [metricsRegistry],
  }),
  outboxLag: new Gauge({
    name: "outbox_lag_seconds",
    help: "Age of the oldest unsent outbox row seen by the relay (0 when none is waiting).",
    registers: [metricsRegistry],
  }),
  consumed: new Counter({
    name: "events_consumed_total",
    help: "Event deliveries handled, by consumer, event type and result.",
    labelNames: ["consumer", "type", "result"] as const,
    registers: [metricsRegistry],
  }),
  consumerPending: new Gauge({
    name: "event_consumer_pending_messages",
    help: "Messages in the stream the consumer has not applied yet: not yet delivered plus delivered and unacked (sampled).",
    labelNames: ["consumer", "stream"] as const,
    registers: [metricsRegistry],
  }),
  deadLettered: new Counter({
    name: "events_dead_lettered_total",
    help: "Events moved to the dead-letter stream, by consumer and event type.",
    labelNames: ["consumer", "type"] as const,
    registers: [metricsRegistry],
  }),
};

/** What happened to one delivery, as counted in `events_consumed_total`. */
export type ConsumeResult = "processed" | "duplicate" | "retried" | "dead_lettered" | "unknown_type";
