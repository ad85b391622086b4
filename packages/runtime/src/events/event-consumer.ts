import { type DescMessage, fromBinary, type MessageShape } from "@bufbuild/protobuf";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  type NatsConnection,
  type NatsError,
  nanos,
  headers as natsHeaders,
} from "nats";
import type { Logger } from "../logger.js";
import { contextFromHeaders, currentContext, type RequestContext, runWithContext } from "../request-context.js";
import type { Sql, SqlDatabase } from "../sql.js";
import { SpanKind, startSpan } from "../tracing.js";
import { isUuid } from "../uuid.js";
import { type ConsumeResult, eventMetrics } from "./metrics.js";
import { commonSubject, messagingSpans } from "./spans.js";
import { ensureStreams } from "./streams.js";
import { deadLetterHeaders, deadLetterSubject, eventHeaders, streamName } from "./subjects.js";

/**
 * The table every event-consuming service has in its own database (copy this model into its
 * schema.prisma). A row records that `consumer` applied the event, in the same transaction
 * as the effect, so a redelivered event is recognised and skipped:
 *
 *   model InboxEvent {
 *     consumer    String
 *     eventId     String   @db.Uuid @map("event_id")
 *     processedAt DateTime @default(now()) @map("processed_at") @db.Timestamptz(3)
 *     @@id([consumer, eventId])
 *     @@map("inbox_events")
 *   }
 */
export const inboxTable = "inbox_events";

/** Where a delivered event came from. */
export interface EventMeta {
  eventId: string;
  type: string;
  subject: string;
  occurredAt?: Date;
  streamSequence: number;
  deliveryCount: number;
}

/** An event as a handler receives it, with where it came from and the publisher's context. */
export interface DeliveredEvent<S extends DescMessage = DescMessage> {
  event: MessageShape<S>;
  meta: EventMeta;
  context: RequestContext;
}

/** Applies one event type inside the transaction that also records it in the inbox. */
export interface EventHandler<S extends DescMessage = DescMessage> {
  schema: S;
  handle(event: MessageShape<S>, tx: Sql, meta: EventMeta): Promise<void>;
  /**
   * Applies several events at once, in stream order; the consumer prefers it for events that
   * arrived together, so a handler writing a row per event can write them all with one
   * statement. Consecutive events whose handlers share this function are passed together,
   * whatever their types (see `onEventsOfTypes`).
   */
  handleMany?(events: DeliveredEvent<S>[], tx: Sql): Promise<void>;
}

/** Handlers keyed by the event's protobuf type name (`shop.orders.v1.OrderConfirmed`). */
export type EventHandlers = Record<string, EventHandler>;

/** Builds a handler whose `event` is typed by `schema`. */
export function onEvent<S extends DescMessage>(schema: S, handle: EventHandler<S>["handle"]): EventHandler<S> {
  return { schema, handle };
}

/**
 * Builds a handler that takes the events of `schema` that arrived together in one call (it
 * runs in the first one's context; each carries its own).
 */
export function onEvents<S extends DescMessage>(schema: S, handleMany: NonNullable<EventHandler<S>["handleMany"]>): EventHandler<S> {
  return {
    schema,
    handleMany,
    handle: (event, tx, meta) => handleMany([{ event, meta, context: currentContext() ?? contextFromHeaders(() => undefined) }], tx),
  };
}

/**
 * Handlers for several event types that share one `handleMany`, which takes the events that
 * arrived together in stream order whatever their types: a projection folds them all into
 * its rows with a few statements per batch.
 */
export function onEventsOfTypes(
  schemas: readonly DescMessage[],
  handleMany: (events: DeliveredEvent[], tx: Sql) => Promise<void>,
): EventHandlers {
  return Object.fromEntries(schemas.map((schema) => [schema.typeName, onEvents(schema, handleMany)]));
}

export interface EventConsumerOptions {
  nc: NatsConnection;
  db: SqlDatabase;
  logger: Logger;
  /** Durable consumer name; also the inbox key and the dead-letter subject suffix. */
  consumerName: string;
  /** The publishing context whose stream is read (`orders` reads `SHOP_ORDERS`). */
  context: string;
  /** Narrows the stream to these subjects; defaults to the whole stream (`shop.<context>.>`). */
  filterSubject?: string;
  handlers: EventHandlers;
  /** Deliveries of a failing event before it goes to the dead-letter stream. */
  maxDeliver?: number;
  /** How long JetStream waits for an ack before redelivering; bounds a handler's transaction. */
  ackWaitMs?: number;
  /** Messages pulled per request, and the most applied in one transaction. */
  batchSize?: number;
  /** Redelivery delay after the first failure; doubles per delivery up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How often the events not yet applied (pending and unacked) are sampled for the lag gauge. */
  lagSampleMs?: number;
}

/** A delivery ready to apply: its message, its handler, the decoded event and the publisher's context. */
interface Delivery extends DeliveredEvent {
  m: JsMsg;
  handler: EventHandler;
}

export interface EventConsumer {
  /** Stops pulling, finishes the batch in hand (later buffered events are returned to the stream). */
  stop(): Promise<void>;
}

const consumerNamePattern = /^[A-Za-z0-9_-]+$/;
const maxErrorHeaderLength = 1_000;
/** JetStream's "consumer name already in use" and "consumer already exists". */
const consumerExistsErrors = new Set([10013, 10148]);

const subjectOfDelivery = (d: Delivery) => d.meta.subject;

/** An event that can never be applied, whatever the number of attempts. */
class UnprocessableEvent extends Error {
  override name = "UnprocessableEvent";
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function retryDelay(deliveryCount: number, initialMs: number, maxMs: number): number {
  const exponential = Math.min(maxMs, initialMs * 2 ** (deliveryCount - 1));
  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/[\r\n]+/g, " ").slice(0, maxErrorHeaderLength);
}

/**
 * Runs a durable pull consumer on a context's stream. Each event is decoded with the schema
 * its `Shop-Event-Type` names and handled in a database transaction that first records
 * `(consumer, event id)` in the inbox: a redelivered event finds its row and is acked without
 * effect. Events that arrive together (up to `batchSize`) share one transaction. A failing
 * event is redelivered with backoff, and after `maxDeliver` deliveries moved to
 * `shop.dead_letter.<consumer>` with the error. Types without a handler are acked and
 * counted (newer events are additive). Handlers run in the publisher's correlation id and
 * trace context.
 */
export async function startEventConsumer(options: EventConsumerOptions): Promise<EventConsumer> {
  const { nc, db, logger, consumerName, context, handlers } = options;
  if (!consumerNamePattern.test(consumerName))
    throw new RangeError(`consumerName must match ${consumerNamePattern}, got "${consumerName}"`);
  for (const [type, handler] of Object.entries(handlers)) {
    if (handler.schema.typeName !== type) throw new RangeError(`handlers["${type}"] is registered for ${handler.schema.typeName}`);
  }
  const maxDeliver = positiveInt("maxDeliver", options.maxDeliver ?? 5);
  const ackWaitMs = positiveInt("ackWaitMs", options.ackWaitMs ?? 30_000);
  const batchSize = positiveInt("batchSize", options.batchSize ?? 64);
  const retryDelayMs = positiveInt("retryDelayMs", options.retryDelayMs ?? 500);
  const maxRetryDelayMs = positiveInt("maxRetryDelayMs", options.maxRetryDelayMs ?? 30_000);
  const lagSampleMs = positiveInt("lagSampleMs", options.lagSampleMs ?? 5_000);
  const stream = streamName(context);
  const log = logger.child({ consumer: consumerName, stream });

  const jsm = await nc.jetstreamManager();
  await ensureStreams(jsm, [context]);
  const limits = {
    ack_wait: nanos(ackWaitMs),
    // One spare delivery, so an event whose dead-lettering failed gets another try.
    max_deliver: maxDeliver + 1,
    // Few batches waiting unacked, so none sits in this process until its ack wait runs out.
    max_ack_pending: batchSize * 4,
  };
  try {
    await jsm.consumers.add(stream, {
      durable_name: consumerName,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: options.filterSubject ?? `shop.${context}.>`,
      ...limits,
    });
  } catch (err) {
    // Servers that refuse to redefine an existing durable consumer still accept new limits.
    if (!consumerExistsErrors.has((err as NatsError).api_error?.err_code ?? 0)) throw err;
    await jsm.consumers.update(stream, consumerName, limits);
  }
  const js = nc.jetstream();
  const consumer = await js.consumers.get(stream, consumerName);

  const count = (type: string, result: ConsumeResult) => eventMetrics.consumed.inc({ consumer: consumerName, type, result });
  const processSpan = messagingSpans("process", { "messaging.consumer.group.name": consumerName });

  /**
   * Runs a handler on deliveries that arrived together, in a span whose parent is the first one's
   * publish and which links to the others' when they belong to other work; the handler runs in
   * that span's context, so what it calls joins the trace.
   */
  const processRun = async (run: Delivery[], handle: () => Promise<void>): Promise<void> => {
    const first = run[0]!;
    const shape = processSpan(commonSubject(run, subjectOfDelivery) ?? stream);
    const linked =
      run.length > 1 ? run.filter((d) => d.context.traceparent !== first.context.traceparent).map((d) => d.context) : undefined;
    const span = startSpan(shape.name, SpanKind.CONSUMER, first.context, shape.attributes, linked);
    if (span.recording) {
      if (run.length === 1) span.span.setAttribute("messaging.message.id", first.meta.eventId);
      else span.span.setAttribute("messaging.batch.message_count", run.length);
    }
    try {
      await runWithContext({ ...first.context, traceparent: span.carrier.traceparent }, handle);
      span.end();
    } catch (err) {
      span.end(err);
      throw err;
    }
  };

  const deadLetter = async (m: JsMsg, type: string, eventId: string, err: unknown): Promise<void> => {
    const h = natsHeaders();
    for (const key of m.headers?.keys() ?? []) {
      if (key !== eventHeaders.messageId) for (const value of m.headers!.values(key)) h.append(key, value);
    }
    h.set(deadLetterHeaders.consumer, consumerName);
    h.set(deadLetterHeaders.subject, m.subject);
    h.set(deadLetterHeaders.stream, m.info.stream);
    h.set(deadLetterHeaders.sequence, String(m.seq));
    h.set(deadLetterHeaders.eventId, eventId);
    h.set(deadLetterHeaders.deliveries, String(m.info.deliveryCount));
    h.set(deadLetterHeaders.error, errorText(err));
    // Keyed per consumer and event: several consumers may dead-letter the same event.
    const deadLetterId = `${consumerName}:${eventId || `${m.info.stream}-${m.seq}`}`;
    await js.publish(deadLetterSubject(consumerName), m.data, { msgID: deadLetterId, headers: h });
    m.term();
    count(type, "dead_lettered");
    eventMetrics.deadLettered.inc({ consumer: consumerName, type });
    log.error({ err, eventId, type, subject: m.subject, deliveries: m.info.deliveryCount }, "event moved to the dead-letter stream");
  };

  /** Dead-letters an event that failed for good, or hands it back for a later delivery. */
  const fail = async (m: JsMsg, type: string, eventId: string, err: unknown): Promise<void> => {
    if (err instanceof UnprocessableEvent || m.info.deliveryCount >= maxDeliver) {
      try {
        await deadLetter(m, type, eventId, err);
        return;
      } catch (publishErr) {
        log.error({ err: publishErr, eventId, type }, "dead-letter publish failed");
      }
    }
    m.nak(retryDelay(m.info.deliveryCount, retryDelayMs, maxRetryDelayMs));
    count(type, "retried");
    log.warn({ err, eventId, type, deliveries: m.info.deliveryCount }, "event handler failed; will retry");
  };

  /** Sorts out a delivery before any transaction: unknown types are acked, malformed events dead-lettered. */
  const prepare = async (m: JsMsg): Promise<Delivery | undefined> => {
    const type = m.headers?.get(eventHeaders.type) ?? "";
    const handler = handlers[type];
    if (!handler) {
      m.ack();
      count(type, "unknown_type");
      return undefined;
    }
    const eventId = m.headers?.get(eventHeaders.messageId) ?? "";
    const occurredAt = m.headers?.get(eventHeaders.occurredAt);
    const meta: EventMeta = {
      eventId,
      type,
      subject: m.subject,
      occurredAt: occurredAt ? new Date(occurredAt) : undefined,
      streamSequence: m.seq,
      deliveryCount: m.info.deliveryCount,
    };
    try {
      if (!isUuid(eventId)) throw new UnprocessableEvent(`${eventHeaders.messageId} must be a UUID event id, got "${eventId}"`);
      let event: MessageShape<DescMessage>;
      try {
        event = fromBinary(handler.schema, m.data);
      } catch (err) {
        throw new UnprocessableEvent(`payload is not a valid ${type}: ${(err as Error).message}`, { cause: err });
      }
      const context = contextFromHeaders((key) => m.headers?.get(key) || undefined);
      return { m, handler, event, meta, context };
    } catch (err) {
      await fail(m, type, eventId, err);
      return undefined;
    }
  };

  /** Records the deliveries in the inbox and applies those seen for the first time, in stream order, in `tx`. */
  const applyAll = async (tx: Sql, deliveries: Delivery[]): Promise<ConsumeResult[]> => {
    const recorded = await tx.query<{ event_id: string }>(
      `INSERT INTO ${inboxTable} (consumer, event_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING RETURNING event_id`,
      [consumerName, deliveries.map((d) => d.meta.eventId)],
    );
    const fresh = new Set(recorded.map((row) => row.event_id.toLowerCase()));
    // A second delivery of the same event in one batch finds its id already taken.
    const results = deliveries.map((d): ConsumeResult => (fresh.delete(d.meta.eventId.toLowerCase()) ? "processed" : "duplicate"));
    const toApply = deliveries.filter((_, index) => results[index] === "processed");
    for (let start = 0; start < toApply.length; ) {
      const { handler } = toApply[start]!;
      let end = start + 1;
      if (handler.handleMany) {
        while (end < toApply.length && toApply[end]!.handler.handleMany === handler.handleMany) end++;
        const run = toApply.slice(start, end);
        await processRun(run, () => handler.handleMany!(run, tx));
      } else {
        const { event, meta } = toApply[start]!;
        await processRun([toApply[start]!], () => handler.handle(event, tx, meta));
      }
      start = end;
    }
    return results;
  };

  const applyOne = async (d: Delivery): Promise<void> => {
    try {
      const [result] = await db.transaction((tx) => applyAll(tx, [d]));
      d.m.ack();
      count(d.meta.type, result!);
    } catch (err) {
      await fail(d.m, d.meta.type, d.meta.eventId, err);
    }
  };

  /**
   * Applies what arrived together in one transaction and acks it after the commit. When any
   * event of it fails, nothing of the batch is kept and each event is applied again in a
   * transaction of its own, so only the failing one is retried or dead-lettered.
   */
  const handleBatch = async (batch: JsMsg[]): Promise<void> => {
    const deliveries: Delivery[] = [];
    for (const m of batch) {
      const d = await prepare(m);
      if (d) deliveries.push(d);
    }
    if (deliveries.length === 0) return;
    if (deliveries.length === 1) return applyOne(deliveries[0]!);
    let results: ConsumeResult[];
    try {
      results = await db.transaction((tx) => applyAll(tx, deliveries));
    } catch (err) {
      log.debug({ err, events: deliveries.length }, "batch failed; applying its events one by one");
      for (const d of deliveries) await applyOne(d);
      return;
    }
    deliveries.forEach((d, index) => {
      d.m.ack();
      count(d.meta.type, results[index]!);
    });
  };

  const sampleLag = async () => {
    try {
      const info = await consumer.info();
      // Delivered but not yet acked counts too: those events are not applied yet either.
      eventMetrics.consumerPending.set({ consumer: consumerName, stream }, info.num_pending + info.num_ack_pending);
    } catch (err) {
      log.debug({ err }, "consumer lag sample failed");
    }
  };
  void sampleLag();
  const lagTimer = setInterval(sampleLag, lagSampleMs);
  lagTimer.unref();

  // Deliveries wait here until the loop takes them, as many at a time as have arrived.
  const queued: JsMsg[] = [];
  let arrived: (() => void) | undefined;
  let stopping = false;
  const messages: ConsumerMessages = await consumer.consume({
    max_messages: batchSize,
    callback: (m) => {
      queued.push(m);
      arrived?.();
    },
  });
  const loop = (async () => {
    while (!stopping) {
      if (queued.length === 0) {
        await new Promise<void>((resolve) => (arrived = resolve));
        arrived = undefined;
        continue;
      }
      await handleBatch(queued.splice(0, batchSize)).catch((err: unknown) => log.error({ err }, "event batch failed"));
    }
    // Buffered deliveries go back to the stream for whoever consumes next.
    for (const m of queued.splice(0)) m.nak();
  })();

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(lagTimer);
        await messages.close();
        arrived?.();
        await loop;
        if (!nc.isClosed()) await nc.flush();
        log.debug("event consumer stopped");
      })();
      return stopped;
    },
  };
}
