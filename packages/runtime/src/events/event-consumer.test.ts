import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { OrderCancelledSchema, OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { type Msg, headers as natsHeaders } from "nats";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { currentContext, type RequestContext, runWithContext } from "../request-context.js";
import {
  type EventConsumer,
  type EventConsumerOptions,
  type EventMeta,
  onEvent,
  onEvents,
  onEventsOfTypes,
  startEventConsumer,
} from "./event-consumer.js";
import { eventMetrics } from "./metrics.js";
import { type OutboxRelay, startOutboxRelay } from "./outbox-relay.js";
import { ensureStreams } from "./streams.js";
import { deadLetterHeaders, deadLetterStream, deadLetterSubject, streamName } from "./subjects.js";
import {
  connectTestNats,
  createScratchDatabase,
  enqueueTestEvent,
  readerOf,
  type ScratchDatabase,
  silentLogger,
  streamMessageCount,
  type TestNats,
  uniqueContext,
  waitFor,
} from "./test-support.js";

const orderPlacedType = OrderPlacedSchema.typeName;

describe("event consumer", () => {
  let scratch: ScratchDatabase;
  let nats: TestNats;
  let relay: OutboxRelay;
  const contexts: string[] = [];
  const consumers: EventConsumer[] = [];

  beforeAll(async () => {
    [scratch, nats] = await Promise.all([createScratchDatabase(), connectTestNats()]);
    relay = startOutboxRelay({ db: scratch.db, nc: nats.nc, logger: silentLogger, pollIntervalMs: 50 });
  });
  afterAll(async () => {
    await relay?.stop();
    await nats?.close(contexts);
    await scratch?.drop();
  });
  beforeEach(async () => {
    await scratch.db.execute("TRUNCATE effects, inbox_events");
  });
  afterEach(async () => {
    await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
  });

  async function newContext(): Promise<string> {
    const context = uniqueContext();
    contexts.push(context);
    await ensureStreams(nats.jsm, [context]);
    return context;
  }

  async function consume(
    context: string,
    options: Partial<EventConsumerOptions> & Pick<EventConsumerOptions, "handlers">,
  ): Promise<EventConsumer> {
    const consumer = await startEventConsumer({
      nc: nats.nc,
      db: scratch.db,
      logger: silentLogger,
      consumerName: readerOf(context),
      context,
      retryDelayMs: 20,
      maxRetryDelayMs: 100,
      ackWaitMs: 5_000,
      ...options,
    });
    consumers.push(consumer);
    return consumer;
  }

  /** Records the effect in the handler's transaction, as a service would. */
  const recordEffect = onEvent(OrderPlacedSchema, async (event, tx, meta) => {
    await tx.execute("INSERT INTO effects (event_id, note) VALUES ($1::uuid, $2)", [meta.eventId, event.orderId]);
  });

  async function placeOrders(context: string, orderIds: string[]): Promise<string[]> {
    const ids = await scratch.db.transaction(async (tx) => {
      const enqueued: string[] = [];
      for (const orderId of orderIds)
        enqueued.push((await enqueueTestEvent(tx, context, OrderPlacedSchema, { orderId, userId: "u-1" })).id);
      return enqueued;
    });
    relay.notify();
    return ids;
  }

  const effects = async () => scratch.db.query<{ event_id: string; note: string }>("SELECT event_id, note FROM effects ORDER BY note");
  const effectCount = async () => (await effects()).length;
  const consumedCount = async (consumer: string, type: string, result: string) =>
    (await eventMetrics.consumed.get()).values.find(
      (v) => v.labels.consumer === consumer && v.labels.type === type && v.labels.result === result,
    )?.value ?? 0;
  const ackPending = async (context: string) => (await nats.jsm.consumers.info(streamName(context), readerOf(context))).num_ack_pending;

  async function deadLetters(context: string): Promise<Msg[]> {
    const received: Msg[] = [];
    nats.nc.subscribe(deadLetterSubject(readerOf(context)), { callback: (_, msg) => received.push(msg) });
    await nats.nc.flush();
    return received;
  }

  it("applies each event once, inside the publisher's correlation id and trace context", async () => {
    const context = await newContext();
    const seen: { context?: RequestContext; meta: EventMeta }[] = [];
    await consume(context, {
      handlers: {
        [orderPlacedType]: onEvent(OrderPlacedSchema, async (event, tx, meta) => {
          seen.push({ context: currentContext(), meta });
          await recordEffect.handle(event, tx, meta);
        }),
      },
    });
    const work = {
      correlationId: "corr-consume-1",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      idempotencyKey: "idem-7",
    };

    const ids = await runWithContext(work, () => placeOrders(context, ["o-1", "o-2", "o-3"]));

    await waitFor(effectCount, (n) => n === 3, { what: "three effects" });
    expect(await effects()).toEqual([
      { event_id: ids[0], note: "o-1" },
      { event_id: ids[1], note: "o-2" },
      { event_id: ids[2], note: "o-3" },
    ]);
    expect(seen.map((s) => s.context)).toEqual(Array(3).fill(expect.objectContaining(work)));
    expect(seen[0]!.meta).toMatchObject({
      eventId: ids[0],
      type: orderPlacedType,
      subject: `shop.${context}.order_placed`,
      deliveryCount: 1,
    });
    expect(seen[0]!.meta.occurredAt).toBeInstanceOf(Date);
    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "all acked" },
    );
  });

  it("skips an event delivered again (inbox), applying its effect only once", async () => {
    const context = await newContext();
    const first = await consume(context, { handlers: { [orderPlacedType]: recordEffect } });
    await placeOrders(context, ["o-1", "o-2"]);
    await waitFor(effectCount, (n) => n === 2, { what: "first delivery applied" });
    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "first delivery acked" },
    );
    await first.stop();

    // A durable consumer recreated from scratch delivers the whole stream again.
    await nats.jsm.consumers.delete(streamName(context), readerOf(context));
    const duplicatesBefore = await consumedCount(readerOf(context), orderPlacedType, "duplicate");
    await consume(context, { handlers: { [orderPlacedType]: recordEffect } });

    await waitFor(
      () => consumedCount(readerOf(context), orderPlacedType, "duplicate"),
      (n) => n === duplicatesBefore + 2,
      { what: "two duplicates" },
    );
    expect(await effectCount()).toBe(2);
  });

  it("shares the work between replicas of one consumer, each event applied once", async () => {
    const context = await newContext();
    await consume(context, { handlers: { [orderPlacedType]: recordEffect }, batchSize: 4 });
    await consume(context, { handlers: { [orderPlacedType]: recordEffect }, batchSize: 4 });

    await placeOrders(
      context,
      Array.from({ length: 40 }, (_, i) => `o-${String(i).padStart(2, "0")}`),
    );

    await waitFor(effectCount, (n) => n >= 40, { what: "forty effects" });
    const rows = await effects();
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((row) => row.event_id)).size).toBe(40);
  });

  /** Enqueues the orders' events and waits until the stream holds them, before any consumer runs. */
  async function backlog(context: string, count: number): Promise<string[]> {
    const ids = await placeOrders(
      context,
      Array.from({ length: count }, (_, i) => `o-${String(i).padStart(2, "0")}`),
    );
    await waitFor(
      () => streamMessageCount(nats.jsm, context),
      (n) => n === count,
      { what: `${count} events in the stream` },
    );
    return ids;
  }

  /** Records the effect with the id of the transaction that applied it. */
  const recordEffectWithTransaction = onEvent(OrderPlacedSchema, async (event, tx, meta) => {
    await tx.execute("INSERT INTO effects (event_id, note) VALUES ($1::uuid, $2 || ' tx ' || txid_current())", [
      meta.eventId,
      event.orderId,
    ]);
  });
  const transactionOf = (note: string) => note.split(" tx ")[1];

  it("applies events that arrive together in one transaction, in stream order", async () => {
    const context = await newContext();
    const ids = await backlog(context, 20);

    await consume(context, { handlers: { [orderPlacedType]: recordEffectWithTransaction } });

    await waitFor(effectCount, (n) => n === 20, { what: "twenty effects" });
    const rows = await effects();
    expect(rows.map((row) => row.event_id)).toEqual(ids);
    // One pull brings the whole backlog; at most a straggler lands in a second transaction.
    expect(new Set(rows.map((row) => transactionOf(row.note))).size).toBeLessThanOrEqual(2);
    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "all acked" },
    );
  });

  it("hands events of one type that arrived together to an onEvents handler in one call, in stream order", async () => {
    const context = await newContext();
    const ids = await backlog(context, 12);
    const calls: string[][] = [];
    await consume(context, {
      handlers: {
        [orderPlacedType]: onEvents(OrderPlacedSchema, async (events, tx) => {
          calls.push(events.map(({ meta }) => meta.eventId));
          await tx.execute("INSERT INTO effects (event_id, note) SELECT unnest($1::uuid[]), unnest($2::text[])", [
            events.map(({ meta }) => meta.eventId),
            events.map(({ event }) => event.orderId),
          ]);
        }),
      },
    });

    await waitFor(effectCount, (n) => n === 12, { what: "twelve effects" });
    expect(calls.flat()).toEqual(ids);
    // One pull brings the whole backlog; at most a straggler lands in a second call.
    expect(calls.length).toBeLessThanOrEqual(2);
    expect((await effects()).map((row) => row.event_id)).toEqual(ids);
  });

  it("hands events of several types that share an onEventsOfTypes handler to it in one call, in stream order", async () => {
    const context = await newContext();
    const ids = await scratch.db.transaction(async (tx) => {
      const enqueued: string[] = [];
      for (let i = 0; i < 6; i += 1) {
        const schema = i % 2 === 0 ? OrderPlacedSchema : OrderCancelledSchema;
        enqueued.push((await enqueueTestEvent(tx, context, schema, { orderId: `o-${i}`, userId: "u-1" })).id);
      }
      return enqueued;
    });
    relay.notify();
    await waitFor(
      () => streamMessageCount(nats.jsm, context),
      (n) => n === 6,
      { what: "six events in the stream" },
    );
    const calls: string[][] = [];
    await consume(context, {
      handlers: onEventsOfTypes([OrderPlacedSchema, OrderCancelledSchema], async (events, tx) => {
        calls.push(events.map(({ meta }) => meta.type));
        await tx.execute("INSERT INTO effects (event_id, note) SELECT unnest($1::uuid[]), unnest($2::text[])", [
          events.map(({ meta }) => meta.eventId),
          events.map(({ meta }) => meta.type),
        ]);
      }),
    });

    await waitFor(effectCount, (n) => n === 6, { what: "six effects" });
    expect(calls.flat()).toEqual([0, 1, 2, 3, 4, 5].map((i) => (i % 2 === 0 ? OrderPlacedSchema : OrderCancelledSchema).typeName));
    // One pull brings the whole backlog; at most a straggler lands in a second call.
    expect(calls.length).toBeLessThanOrEqual(2);
    expect(calls.some((types) => new Set(types).size === 2)).toBe(true);
    expect((await effects()).map((row) => row.event_id).sort()).toEqual([...ids].sort());
  });

  it("when one event of a batch fails, applies the others once and retries only that one", async () => {
    const context = await newContext();
    const ids = await backlog(context, 10);
    const failingId = ids[4]!;
    const deliveries = new Map<string, number[]>();
    await consume(context, {
      handlers: {
        [orderPlacedType]: onEvent(OrderPlacedSchema, async (event, tx, meta) => {
          deliveries.set(event.orderId, [...(deliveries.get(event.orderId) ?? []), meta.deliveryCount]);
          await recordEffectWithTransaction.handle(event, tx, meta);
          if (meta.eventId === failingId && meta.deliveryCount === 1) throw new Error("transient failure");
        }),
      },
    });

    await waitFor(effectCount, (n) => n === 10, { what: "ten effects" });
    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "all acked" },
    );
    const rows = await effects();
    expect(rows.map((row) => row.event_id)).toEqual(ids);
    // The failing event came back in a later delivery; every other event was delivered once.
    expect(deliveries.get("o-04")!.at(-1)).toBe(2);
    for (const [orderId, counts] of deliveries) if (orderId !== "o-04") expect(counts.every((count) => count === 1)).toBe(true);
    expect((await scratch.db.query<{ count: bigint }>("SELECT count(*) FROM inbox_events"))[0]!.count).toBe(10n);
  });

  it("retries a failing handler with its transaction rolled back, until it succeeds", async () => {
    const context = await newContext();
    const deliveries: number[] = [];
    await consume(context, {
      maxDeliver: 5,
      handlers: {
        [orderPlacedType]: onEvent(OrderPlacedSchema, async (event, tx, meta) => {
          deliveries.push(meta.deliveryCount);
          await recordEffect.handle(event, tx, meta);
          if (meta.deliveryCount < 3) throw new Error("downstream unavailable");
        }),
      },
    });
    const received = await deadLetters(context);

    await placeOrders(context, ["o-1"]);

    await waitFor(effectCount, (n) => n === 1, { what: "effect after retries" });
    expect(deliveries).toEqual([1, 2, 3]);
    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "acked" },
    );
    expect(received).toHaveLength(0);
  });

  it("moves an event that keeps failing to shop.dead_letter.<consumer> after maxDeliver deliveries, with the error", async () => {
    const context = await newContext();
    const consumerName = readerOf(context);
    let attempts = 0;
    await consume(context, {
      maxDeliver: 3,
      handlers: {
        [orderPlacedType]: onEvent(OrderPlacedSchema, async (event, tx, meta) => {
          attempts += 1;
          await recordEffect.handle(event, tx, meta);
          throw new Error("stock service\nrejected the order");
        }),
      },
    });
    const received = await deadLetters(context);
    const deadLetteredBefore = (await eventMetrics.deadLettered.get()).values.find((v) => v.labels.consumer === consumerName)?.value ?? 0;

    const [eventId] = await placeOrders(context, ["o-poison"]);

    await waitFor(
      () => received.length,
      (n) => n === 1,
      { what: "dead letter" },
    );
    const letter = received[0]!;
    expect(letter.headers?.get(deadLetterHeaders.consumer)).toBe(consumerName);
    expect(letter.headers?.get(deadLetterHeaders.subject)).toBe(`shop.${context}.order_placed`);
    expect(letter.headers?.get(deadLetterHeaders.stream)).toBe(streamName(context));
    expect(letter.headers?.get(deadLetterHeaders.eventId)).toBe(eventId);
    expect(letter.headers?.get(deadLetterHeaders.deliveries)).toBe("3");
    expect(letter.headers?.get(deadLetterHeaders.error)).toBe("Error: stock service rejected the order");
    expect(letter.headers?.get("Shop-Event-Type")).toBe(orderPlacedType);
    expect(Buffer.from(letter.data)).toEqual(
      Buffer.from(toBinary(OrderPlacedSchema, create(OrderPlacedSchema, { orderId: "o-poison", userId: "u-1" }))),
    );
    const stored = await nats.jsm.streams.getMessage(deadLetterStream, { last_by_subj: deadLetterSubject(consumerName) });
    expect(stored.header.get(deadLetterHeaders.eventId)).toBe(eventId);

    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "poison message terminated" },
    );
    expect(attempts).toBe(3);
    expect(await effectCount()).toBe(0);
    expect((await eventMetrics.deadLettered.get()).values.find((v) => v.labels.consumer === consumerName)?.value).toBe(
      deadLetteredBefore + 1,
    );
  });

  it("dead-letters at once an event that can never be applied: bad payload or missing event id", async () => {
    const context = await newContext();
    let attempts = 0;
    await consume(context, {
      handlers: {
        [orderPlacedType]: onEvent(OrderPlacedSchema, async () => {
          attempts += 1;
        }),
      },
    });
    const received = await deadLetters(context);
    const js = nats.nc.jetstream();
    const typed = () => {
      const h = natsHeaders();
      h.set("Shop-Event-Type", orderPlacedType);
      return h;
    };

    await js.publish(`shop.${context}.order_placed`, new Uint8Array([0xff, 0xff, 0xff]), { msgID: randomUUID(), headers: typed() });
    await js.publish(`shop.${context}.order_placed`, toBinary(OrderPlacedSchema, create(OrderPlacedSchema, { orderId: "o-1" })), {
      headers: typed(),
    });

    await waitFor(
      () => received.length,
      (n) => n === 2,
      { what: "two dead letters" },
    );
    expect(received[0]!.headers?.get(deadLetterHeaders.error)).toMatch(/payload is not a valid shop\.orders\.v1\.OrderPlaced/);
    expect(received[0]!.headers?.get(deadLetterHeaders.deliveries)).toBe("1");
    expect(received[1]!.headers?.get(deadLetterHeaders.error)).toMatch(/Nats-Msg-Id must be a UUID event id/);
    expect(attempts).toBe(0);
  });

  it("acks and counts an event type it has no handler for", async () => {
    const context = await newContext();
    const consumerName = readerOf(context);
    await consume(context, { handlers: { [orderPlacedType]: recordEffect } });

    await scratch.db.transaction((tx) =>
      enqueueTestEvent(tx, context, OrderCancelledSchema, { orderId: "o-1", reason: "PAYMENT_DECLINED" }),
    );
    await placeOrders(context, ["o-2"]);

    await waitFor(effectCount, (n) => n === 1, { what: "known event applied" });
    expect(await consumedCount(consumerName, OrderCancelledSchema.typeName, "unknown_type")).toBe(1);
    await waitFor(
      () => ackPending(context),
      (n) => n === 0,
      { what: "both acked" },
    );
  });

  it("samples the consumer's pending messages into the lag gauge", async () => {
    const context = await newContext();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await consume(context, {
      batchSize: 1,
      lagSampleMs: 20,
      handlers: { [orderPlacedType]: onEvent(OrderPlacedSchema, () => released) },
    });
    const pending = async () =>
      (await eventMetrics.consumerPending.get()).values.find((v) => v.labels.consumer === readerOf(context))?.value ?? -1;

    await placeOrders(context, ["o-1", "o-2", "o-3", "o-4"]);

    await waitFor(pending, (n) => n >= 2, { what: "lag while the handler is blocked" });
    release();
    await waitFor(pending, (n) => n === 0, { what: "lag back to zero" });
  });

  it("stop() waits for the event in hand, commits and acks it", async () => {
    const context = await newContext();
    let started!: () => void;
    const handling = new Promise<void>((resolve) => (started = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const consumer = await consume(context, {
      handlers: {
        [orderPlacedType]: onEvent(OrderPlacedSchema, async (event, tx, meta) => {
          started();
          await released;
          await recordEffect.handle(event, tx, meta);
        }),
      },
    });
    await placeOrders(context, ["o-1"]);
    await handling;

    let stopped = false;
    const stopping = consumer.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    release();
    await stopping;

    expect(await effectCount()).toBe(1);
    expect(await ackPending(context)).toBe(0);
  });

  it("refuses a handler filed under another type name, and a consumer name that is not a subject token", async () => {
    const context = await newContext();
    await expect(consume(context, { handlers: { [OrderCancelledSchema.typeName]: recordEffect } })).rejects.toThrow(
      /handlers\["shop\.orders\.v1\.OrderCancelled"\] is registered for shop\.orders\.v1\.OrderPlaced/,
    );
    await expect(consume(context, { consumerName: "orders.reader", handlers: {} })).rejects.toThrow(/consumerName/);
  });
});
