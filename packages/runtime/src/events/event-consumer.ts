import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { AckPolicy, DeliverPolicy, headers as natsHeaders, nanos, type ConsumerMessages, type JsMsg, type NatsConnection, type NatsError } from "nats";
import type { Logger } from "../logger.js";
import { contextFromHeaders, runWithContext } from "../request-context.js";
import type { EventDatabase, EventTransaction } from "./database.js";
import { eventMetrics, type ConsumeResult } from "./metrics.js";
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

/** Applies one event type inside the transaction that also records it in the inbox. */
export interface EventHandler<S extends DescMessage = DescMessage> {
  schema: S;
  handle(event: MessageShape<S>, tx: EventTransaction, meta: EventMeta): Promise<void>;
}

/** Handlers keyed by the event's protobuf type name (`shop.orders.v1.OrderConfirmed`). */
export type EventHandlers = Record<string, EventHandler>;

/** Builds a handler whose `event` is typed by `schema`. */
export function onEvent<S extends DescMessage>(schema: S, handle: EventHandler<S>["handle"]): EventHandler<S> {
  return { schema, handle };
}

export interface EventConsumerOptions {
  nc: NatsConnection;
  db: EventDatabase;
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
  /** Messages pulled per request. */
  batchSize?: number;
  /** Redelivery delay after the first failure; doubles per delivery up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** How often num_pending is sampled for the lag gauge. */
  lagSampleMs?: number;
}

export interface EventConsumer {
  /** Stops pulling, finishes the event in hand (later buffered ones are returned to the stream). */
  stop(): Promise<void>;
}

const consumerNamePattern = /^[A-Za-z0-9_-]+$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const maxErrorHeaderLength = 1_000;
/** JetStream's "consumer name already in use" and "consumer already exists". */
const consumerExistsErrors = new Set([10013, 10148]);

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
 * its `Shop-Event-Type` names and handled in one database transaction that first records
 * `(consumer, event id)` in the inbox: a redelivered event finds its row and is acked without
 * effect. A failing event is redelivered with backoff, and after `maxDeliver` deliveries moved
 * to `shop.dead_letter.<consumer>` with the error. Types without a handler are acked and
 * counted (newer events are additive). Handlers run in the publisher's correlation id and
 * trace context.
 */
export async function startEventConsumer(options: EventConsumerOptions): Promise<EventConsumer> {
  const { nc, db, logger, consumerName, context, handlers } = options;
  if (!consumerNamePattern.test(consumerName)) throw new RangeError(`consumerName must match ${consumerNamePattern}, got "${consumerName}"`);
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

  const apply = async (m: JsMsg, handler: EventHandler, meta: EventMeta): Promise<ConsumeResult> => {
    let event: MessageShape<DescMessage>;
    try {
      event = fromBinary(handler.schema, m.data);
    } catch (err) {
      throw new UnprocessableEvent(`payload is not a valid ${meta.type}: ${(err as Error).message}`, { cause: err });
    }
    const requestContext = contextFromHeaders((key) => m.headers?.get(key) || undefined);
    return runWithContext(requestContext, () =>
      db.$transaction(
        async (tx) => {
          const recorded = await tx.$executeRawUnsafe(
            `INSERT INTO ${inboxTable} (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`,
            consumerName,
            meta.eventId,
          );
          if (recorded === 0) return "duplicate";
          await handler.handle(event, tx, meta);
          return "processed";
        },
        { maxWait: ackWaitMs, timeout: ackWaitMs },
      ),
    );
  };

  const handleMessage = async (m: JsMsg): Promise<void> => {
    const type = m.headers?.get(eventHeaders.type) ?? "";
    const handler = handlers[type];
    if (!handler) {
      m.ack();
      count(type, "unknown_type");
      return;
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
      if (!uuidPattern.test(eventId)) throw new UnprocessableEvent(`${eventHeaders.messageId} must be a UUID event id, got "${eventId}"`);
      const result = await apply(m, handler, meta);
      m.ack();
      count(type, result);
    } catch (err) {
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
    }
  };

  const sampleLag = async () => {
    try {
      const info = await consumer.info();
      eventMetrics.consumerPending.set({ consumer: consumerName, stream }, info.num_pending);
    } catch (err) {
      log.debug({ err }, "consumer lag sample failed");
    }
  };
  void sampleLag();
  const lagTimer = setInterval(sampleLag, lagSampleMs);
  lagTimer.unref();

  let stopping = false;
  const messages: ConsumerMessages = await consumer.consume({ max_messages: batchSize });
  const loop = (async () => {
    for await (const m of messages) {
      if (stopping) {
        m.nak();
        continue;
      }
      await handleMessage(m);
    }
  })().catch((err) => log.error({ err }, "event consumer stopped on error"));

  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(lagTimer);
        await messages.close();
        await loop;
        if (!nc.isClosed()) await nc.flush();
        log.debug("event consumer stopped");
      })();
      return stopped;
    },
  };
}
