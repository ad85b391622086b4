import { fromBinary } from "@bufbuild/protobuf";
import { OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runWithContext } from "../request-context.js";
import type { Sql } from "../sql.js";
import { eventMetrics } from "./metrics.js";
import { enqueueEvents, outboxEntry } from "./outbox.js";
import { type OutboxRelay, type OutboxRelayOptions, startOutboxRelay } from "./outbox-relay.js";
import { replayStream, type StoredEvent } from "./replay.js";
import { ensureStreams } from "./streams.js";
import { streamName } from "./subjects.js";
import {
  connectTestNats,
  createScratchDatabase,
  enqueueTestEvent,
  type ScratchDatabase,
  silentLogger,
  streamMessageCount,
  type TestNats,
  uniqueContext,
  waitFor,
} from "./test-support.js";

describe("outbox relay", () => {
  let scratch: ScratchDatabase;
  let nats: TestNats;
  const contexts: string[] = [];
  const relays: OutboxRelay[] = [];

  beforeAll(async () => {
    [scratch, nats] = await Promise.all([createScratchDatabase(), connectTestNats()]);
  });
  afterAll(async () => {
    await nats?.close(contexts);
    await scratch?.drop();
  });
  beforeEach(async () => {
    await scratch.db.execute("TRUNCATE outbox_events");
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((relay) => relay.stop()));
  });

  async function newContext(withStream = true): Promise<string> {
    const context = uniqueContext();
    contexts.push(context);
    if (withStream) await ensureStreams(nats.jsm, [context]);
    return context;
  }

  function relay(options: Partial<OutboxRelayOptions> = {}): OutboxRelay {
    const started = startOutboxRelay({ db: scratch.db, nc: nats.nc, logger: silentLogger, pollIntervalMs: 50, ...options });
    relays.push(started);
    return started;
  }

  async function enqueueOrders(context: string, orderIds: string[]): Promise<string[]> {
    return scratch.db.transaction(async (tx) => {
      const ids: string[] = [];
      for (const orderId of orderIds) ids.push((await enqueueTestEvent(tx, context, OrderPlacedSchema, { orderId, userId: "u-1" })).id);
      return ids;
    });
  }

  /** Runs `work`, counting the relay's transactions that claimed rows from the table meanwhile. */
  async function countClaims(work: () => Promise<void>): Promise<number> {
    const transaction = scratch.db.transaction;
    let claims = 0;
    scratch.db.transaction = async (run, options) => {
      const result = await transaction(run, options);
      if ((result as { claimed?: number } | undefined)?.claimed) claims += 1;
      return result;
    };
    try {
      await work();
    } finally {
      scratch.db.transaction = transaction;
    }
    return claims;
  }

  const unsentCount = async () =>
    Number((await scratch.db.query<{ count: bigint }>("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL"))[0]!.count);

  async function readStream(context: string): Promise<StoredEvent[]> {
    const events: StoredEvent[] = [];
    await replayStream({ nc: nats.nc, stream: streamName(context), handle: (event) => void events.push(event) });
    return events;
  }

  const publishedCount = async () =>
    (await eventMetrics.outboxPublished.get()).values.find((v) => v.labels.type === OrderPlacedSchema.typeName)?.value ?? 0;

  it("publishes unsent rows in creation order with the event headers, and marks them sent", async () => {
    const context = await newContext();
    const work = {
      correlationId: "corr-relay-1",
      traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      idempotencyKey: "idem-1",
    };
    const ids = await runWithContext(work, async () => [
      ...(await enqueueOrders(context, ["o-1", "o-2", "o-3"])),
      ...(await enqueueOrders(context, ["o-4", "o-5"])),
    ]);
    const publishedBefore = await publishedCount();

    relay();
    await waitFor(unsentCount, (n) => n === 0, { what: "all rows sent" });

    const events = await readStream(context);
    expect(events.map((event) => fromBinary(OrderPlacedSchema, event.data).orderId)).toEqual(["o-1", "o-2", "o-3", "o-4", "o-5"]);
    expect(events.map((event) => event.eventId)).toEqual(ids);
    const createdAt = (await scratch.db.query<{ created_at: Date }>("SELECT created_at FROM outbox_events WHERE id = $1", [ids[0]]))[0]!
      .created_at;
    expect(events[0]).toMatchObject({
      subject: `shop.${context}.order_placed`,
      type: "shop.orders.v1.OrderPlaced",
      occurredAt: createdAt,
      headers: {
        "Nats-Msg-Id": ids[0],
        "Shop-Event-Type": "shop.orders.v1.OrderPlaced",
        "Content-Type": "application/protobuf",
        "Shop-Occurred-At": createdAt.toISOString(),
        "x-request-id": work.correlationId,
        traceparent: work.traceparent,
        "idempotency-key": work.idempotencyKey,
      },
    });
    expect(await publishedCount()).toBe(publishedBefore + 5);
  });

  it("enqueueEvents writes a transaction's events in one statement; they are published in the order given", async () => {
    const context = await newContext();
    const entries = ["o-1", "o-2", "o-3", "o-4"].map((orderId) => ({
      ...outboxEntry(OrderPlacedSchema, { orderId, userId: "u-1" }),
      subject: `shop.${context}.order_placed`,
    }));
    let statements = 0;
    const enqueued = await scratch.db.transaction((tx) => {
      const counted: Sql = {
        query: (text, values) => {
          statements++;
          return tx.query(text, values);
        },
        execute: (text, values) => {
          statements++;
          return tx.execute(text, values);
        },
        afterCommit: (callback) => tx.afterCommit(callback),
      };
      return enqueueEvents(counted, entries);
    });
    expect(statements).toBe(1);
    expect(enqueued).toEqual(entries.map(({ id, subject }) => ({ id, subject })));

    relay();
    await waitFor(unsentCount, (n) => n === 0, { what: "all rows sent" });
    const events = await readStream(context);
    expect(events.map((event) => fromBinary(OrderPlacedSchema, event.data).orderId)).toEqual(["o-1", "o-2", "o-3", "o-4"]);
    expect(events.map((event) => event.eventId)).toEqual(entries.map((entry) => entry.id));
    expect(await scratch.db.execute("SELECT 1 FROM outbox_events")).toBe(4);
  });

  it("publishes at once when a transaction that enqueued events commits, without waiting for its poll", async () => {
    const context = await newContext();
    relay({ pollIntervalMs: 60_000 });
    await enqueueOrders(context, ["o-1"]);
    await waitFor(unsentCount, (n) => n === 0, { what: "the first row sent" });

    // The relay now waits out its minute-long poll; only the commit can wake it.
    await enqueueOrders(context, ["o-2", "o-3"]);
    await waitFor(unsentCount, (n) => n === 0, { timeoutMs: 10_000, what: "the rows sent on commit" });
    expect(await streamMessageCount(nats.jsm, context)).toBe(3);
  });

  it("publishes a commit's events from memory, without claiming them from the table", async () => {
    const context = await newContext();
    await enqueueOrders(context, ["o-marker"]);
    relay({ pollIntervalMs: 60_000 });
    await waitFor(unsentCount, (n) => n === 0, { what: "first poll done, relay now idle for a minute" });

    const claims = await countClaims(async () => {
      const ids = await enqueueOrders(context, ["o-1", "o-2"]);
      await waitFor(unsentCount, (n) => n === 0, { timeoutMs: 10_000, what: "the committed rows sent" });
      expect((await readStream(context)).map((event) => event.eventId).slice(1)).toEqual(ids);
    });
    expect(claims).toBe(0);
  });

  it("does not lose a notify() that comes while a poll runs", async () => {
    const context = await newContext();
    // The relay's first poll finds the table empty, then waits here until the row is written and notify() called.
    const transaction = scratch.db.transaction;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let entered = false;
    scratch.db.transaction = async (run, options) => {
      const result = await transaction(run, options);
      if (!entered) {
        entered = true;
        await released;
      }
      return result;
    };
    try {
      const live = relay({ pollIntervalMs: 60_000 });
      await waitFor(
        async () => entered,
        (yes) => yes,
        { what: "the first poll to have claimed nothing" },
      );
      await transaction(async (tx) => {
        tx.afterCommit = () => {};
        await enqueueTestEvent(tx, context, OrderPlacedSchema, { orderId: "o-notified", userId: "u-1" });
      });
      live.notify();
      release();
      await waitFor(unsentCount, (n) => n === 0, { what: "the row published by the poll notify() asked for" });
    } finally {
      scratch.db.transaction = transaction;
    }
  });

  it("publishes once a row its poll claimed before the row's commit was handed to it", async () => {
    const context = await newContext();
    const live = relay({ pollIntervalMs: 60_000 });
    await waitFor(unsentCount, (n) => n === 0, { what: "first poll done, relay now idle for a minute" });
    const before = await publishedCount();

    // The commit is visible to the poll before its caller runs the hand-over: hold the hand-over back.
    const handOvers: (() => void)[] = [];
    const [early] = await scratch.db.transaction(async (tx) => {
      tx.afterCommit = (callback) => handOvers.push(callback);
      return [(await enqueueTestEvent(tx, context, OrderPlacedSchema, { orderId: "o-early", userId: "u-1" })).id];
    });
    live.notify();
    await waitFor(unsentCount, (n) => n === 0, { what: "the poll to publish the row" });
    for (const handOver of handOvers) handOver();
    const [later] = await enqueueOrders(context, ["o-later"]);
    await waitFor(
      async () =>
        (await scratch.db.query<{ sent_at: Date | null }>("SELECT sent_at FROM outbox_events WHERE id = $1", [later]))[0]?.sent_at,
      (sentAt) => sentAt != null,
      { what: "the next commit published" },
    );

    expect(await publishedCount()).toBe(before + 2);
    expect((await readStream(context)).map((event) => event.eventId)).toEqual([early, later]);
  });

  it("marks the events of commits published from memory sent together, with one statement", async () => {
    const context = await newContext();
    await enqueueOrders(context, ["o-marker"]);
    relay({ pollIntervalMs: 60_000, markDelayMs: 3_000 });
    await waitFor(unsentCount, (n) => n === 0, { what: "first poll done, relay now idle for a minute" });

    const execute = scratch.db.execute;
    let marks = 0;
    scratch.db.execute = (text, values) => {
      if (text.startsWith("UPDATE outbox_events SET sent_at")) marks += 1;
      return execute(text, values);
    };
    try {
      for (let i = 0; i < 4; i++) await enqueueOrders(context, [`o-${i}`]);
      await waitFor(unsentCount, (n) => n === 0, { timeoutMs: 10_000, what: "the published events marked sent" });
    } finally {
      scratch.db.execute = execute;
    }
    expect(marks).toBe(1);
  });

  it("claims from the table at once when a commit holds more than its queue, then takes commits from memory again", async () => {
    const context = await newContext();
    await enqueueOrders(context, ["o-marker"]);
    relay({ pollIntervalMs: 60_000, batchSize: 2 });
    await waitFor(unsentCount, (n) => n === 0, { what: "first poll done, relay now idle for a minute" });

    // The queue holds four batches (8 events): these 10 go to the table, which is claimed at once.
    await enqueueOrders(
      context,
      Array.from({ length: 10 }, (_, i) => `o-${i}`),
    );
    await waitFor(unsentCount, (n) => n === 0, { timeoutMs: 10_000, what: "the overflowing commit sent" });

    const claims = await countClaims(async () => {
      await enqueueOrders(context, ["o-after"]);
      await waitFor(unsentCount, (n) => n === 0, { timeoutMs: 10_000, what: "the next commit sent" });
    });
    expect(claims).toBe(0);
    expect(await streamMessageCount(nats.jsm, context)).toBe(12);
  });

  it("leaves the events of a commit it could not publish to the poll, which publishes them when it can", async () => {
    const context = await newContext(false);
    const errorsBefore = (await eventMetrics.outboxPublishErrors.get()).values[0]?.value ?? 0;
    relay({ publishTimeoutMs: 500, pollIntervalMs: 200 });

    await enqueueOrders(context, ["o-1", "o-2"]);
    await waitFor(
      async () => (await eventMetrics.outboxPublishErrors.get()).values[0]?.value ?? 0,
      (errors) => errors >= errorsBefore + 2,
      { what: "publish errors counted" },
    );
    expect(await unsentCount()).toBe(2);

    await ensureStreams(nats.jsm, [context]);
    await waitFor(unsentCount, (n) => n === 0, { what: "rows sent once the stream exists" });
    expect((await readStream(context)).map((event) => fromBinary(OrderPlacedSchema, event.data).orderId)).toEqual(["o-1", "o-2"]);
  });

  it("publishes each row exactly once when two relays share the table", async () => {
    const context = await newContext();
    for (let chunk = 0; chunk < 10; chunk += 1) {
      await enqueueOrders(
        context,
        Array.from({ length: 20 }, (_, i) => `o-${chunk}-${i}`),
      );
    }
    const publishedBefore = await publishedCount();

    relay({ batchSize: 7 });
    relay({ batchSize: 7 });
    await waitFor(unsentCount, (n) => n === 0, { what: "all rows sent" });

    expect(await publishedCount()).toBe(publishedBefore + 200);
    expect(await streamMessageCount(nats.jsm, context)).toBe(200);

    // Commits while both run: one relay takes each; a row the other's poll also caught is one message.
    for (let chunk = 0; chunk < 5; chunk += 1) {
      await enqueueOrders(
        context,
        Array.from({ length: 20 }, (_, i) => `o-running-${chunk}-${i}`),
      );
    }
    await waitFor(unsentCount, (n) => n === 0, { what: "rows committed while running sent" });
    expect(await streamMessageCount(nats.jsm, context)).toBe(300);
  });

  it("republishing a row whose commit was lost leaves one message in the stream", async () => {
    const context = await newContext();
    await enqueueOrders(context, ["o-1", "o-2"]);
    const running = relay();
    await waitFor(unsentCount, (n) => n === 0, { what: "first publish" });

    // As if the relay crashed after JetStream acknowledged and before its transaction committed.
    await scratch.db.execute("UPDATE outbox_events SET sent_at = NULL");
    running.notify();
    await waitFor(unsentCount, (n) => n === 0, { what: "second publish" });

    expect(await streamMessageCount(nats.jsm, context)).toBe(2);
  });

  it("publishes at once after notify() instead of waiting for the next poll", async () => {
    const context = await newContext();
    await enqueueOrders(context, ["o-marker"]);
    const running = relay({ pollIntervalMs: 60_000 });
    await waitFor(unsentCount, (n) => n === 0, { what: "first poll done, relay now idle for a minute" });

    await enqueueOrders(context, ["o-1"]);
    running.notify();

    await waitFor(unsentCount, (n) => n === 0, { timeoutMs: 5_000, what: "row sent after notify" });
    expect(await streamMessageCount(nats.jsm, context)).toBe(2);
  });

  it("stop() publishes what is still unsent before returning", async () => {
    const context = await newContext();
    await enqueueOrders(context, ["o-marker"]);
    const running = relay({ pollIntervalMs: 60_000, batchSize: 3 });
    await waitFor(unsentCount, (n) => n === 0, { what: "first poll done, relay now idle for a minute" });
    await enqueueOrders(context, ["o-1", "o-2", "o-3", "o-4", "o-5", "o-6", "o-7"]);

    await running.stop();

    expect(await unsentCount()).toBe(0);
    expect(await streamMessageCount(nats.jsm, context)).toBe(8);
  });

  it("keeps rows it could not publish, counts the errors and the lag, and publishes them when it can", async () => {
    const context = await newContext(false);
    await enqueueOrders(context, ["o-1", "o-2"]);
    const errorsBefore = (await eventMetrics.outboxPublishErrors.get()).values[0]?.value ?? 0;

    relay({ publishTimeoutMs: 500 });
    await waitFor(
      async () => (await eventMetrics.outboxPublishErrors.get()).values[0]?.value ?? 0,
      (errors) => errors >= errorsBefore + 2,
      { what: "publish errors counted" },
    );
    expect(await unsentCount()).toBe(2);
    await waitFor(
      () => eventMetrics.outboxLag.get(),
      (lag) => (lag.values[0]?.value ?? 0) > 0,
      { what: "lag reported" },
    );

    await ensureStreams(nats.jsm, [context]);
    await waitFor(unsentCount, (n) => n === 0, { what: "rows sent once the stream exists" });
    expect(await streamMessageCount(nats.jsm, context)).toBe(2);
  });

  it("rejects options out of range, naming the option", () => {
    expect(() => startOutboxRelay({ db: scratch.db, nc: nats.nc, logger: silentLogger, batchSize: 0 })).toThrow(/batchSize/);
    expect(() => startOutboxRelay({ db: scratch.db, nc: nats.nc, logger: silentLogger, pollIntervalMs: 3_600_000 })).toThrow(
      /pollIntervalMs/,
    );
  });
});
