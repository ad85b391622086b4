import { randomUUID } from "node:crypto";
import type { Message } from "@bufbuild/protobuf";
import {
  type OrderCancelled,
  OrderCancelledSchema,
  type OrderConfirmed,
  OrderConfirmedSchema,
} from "@shop/contracts/shop/orders/v1/events_pb.js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventStore, type GlobalPosition, type RecordedEvent, type StreamType, StreamVersionConflict } from "./event-store.js";
import { outboxEntry } from "./outbox.js";
import { type OutboxRelay, startOutboxRelay } from "./outbox-relay.js";
import { ensureStreams } from "./streams.js";
import { streamName } from "./subjects.js";
import {
  connectTestNats,
  createScratchDatabase,
  type ScratchDatabase,
  silentLogger,
  streamMessageCount,
  type TestNats,
  uniqueContext,
  waitFor,
} from "./test-support.js";

/** A tab: confirmed orders add their totals until it is closed by a cancellation. */
type TabEvent = { kind: "added"; amount: bigint } | { kind: "closed"; reason: string };
interface Tab {
  total: bigint;
  entries: number;
  closed: boolean;
}

class TabClosed extends Error {
  override name = "TabClosed";
}

function tabType(options: { context?: string; snapshots?: { every: number; schemaVersion: number } } = {}): StreamType<TabEvent, Tab> {
  const subjectOf = (subject: string) => (options.context ? subject.replace(/^shop\.[^.]+\./, `shop.${options.context}.`) : subject);
  return {
    schemas: [OrderConfirmedSchema, OrderCancelledSchema],
    fromMessage(message: Message): TabEvent {
      if (message.$typeName === OrderConfirmedSchema.typeName)
        return { kind: "added", amount: (message as OrderConfirmed).total!.amountMinor };
      return { kind: "closed", reason: (message as OrderCancelled).reason };
    },
    toEntry(event) {
      const entry =
        event.kind === "added"
          ? outboxEntry(OrderConfirmedSchema, { orderId: randomUUID(), total: { currencyCode: "USD", amountMinor: event.amount } })
          : outboxEntry(OrderCancelledSchema, { orderId: randomUUID(), reason: event.reason });
      return { ...entry, subject: subjectOf(entry.subject) };
    },
    initial: { total: 0n, entries: 0, closed: false },
    evolve(tab, event) {
      if (tab.closed) throw new TabClosed("the tab is closed");
      return event.kind === "added" ? { ...tab, total: tab.total + event.amount, entries: tab.entries + 1 } : { ...tab, closed: true };
    },
    snapshots: options.snapshots && {
      ...options.snapshots,
      encode: (tab) => ({ total: tab.total.toString(), entries: tab.entries, closed: tab.closed }),
      decode: (json) => {
        const { total, entries, closed } = json as { total: string; entries: number; closed: boolean };
        return { total: BigInt(total), entries, closed };
      },
    },
  };
}

const added = (amount: bigint): TabEvent => ({ kind: "added", amount });

let scratch: ScratchDatabase;

beforeAll(async () => {
  scratch = await createScratchDatabase({ streams: true });
});

afterAll(async () => {
  await scratch?.drop();
});

const newStream = () => `tab-${randomUUID()}`;

describe("appending and reading a stream", () => {
  const store = new EventStore(tabType());

  it("appends at the versions after the one read, and reads the stream from any version", async () => {
    const streamId = newStream();
    const first = await store.append(scratch.db, streamId, { state: store.type.initial, version: 0 }, [added(5n), added(7n)]);
    expect(first).toEqual({ state: { total: 12n, entries: 2, closed: false }, version: 2 });
    await store.append(scratch.db, streamId, first, [{ kind: "closed", reason: "done" }]);

    const events = await store.readStream(scratch.db, streamId);
    expect(events.map((e) => [e.version, e.type, e.event])).toEqual([
      [1, OrderConfirmedSchema.typeName, added(5n)],
      [2, OrderConfirmedSchema.typeName, added(7n)],
      [3, OrderCancelledSchema.typeName, { kind: "closed", reason: "done" }],
    ]);
    expect(events.every((e) => e.streamId === streamId && e.recordedAt instanceof Date)).toBe(true);
    expect((await store.readStream(scratch.db, streamId, 3)).map((e) => e.version)).toEqual([3]);
    expect(await store.load(scratch.db, streamId)).toEqual({ state: { total: 12n, entries: 2, closed: true }, version: 3 });
    expect(await store.load(scratch.db, newStream())).toEqual({ state: store.type.initial, version: 0 });
  });

  it("writes each event as an outbox row of its stream, with the work's headers", async () => {
    const streamId = newStream();
    await store.append(scratch.db, streamId, { state: store.type.initial, version: 0 }, [added(1n)]);
    const [event] = await store.readStream(scratch.db, streamId);
    const rows = await scratch.db.query<{ id: string; subject: string; stream_id: string; stream_version: number; sent_at: Date | null }>(
      "SELECT id::text, subject, stream_id, stream_version, sent_at FROM outbox_events WHERE stream_id = $1",
      [streamId],
    );
    expect(rows).toEqual([
      { id: event!.eventId, subject: "shop.orders.order_confirmed", stream_id: streamId, stream_version: 1, sent_at: null },
    ]);
  });

  it("refuses an append at a version another one took with StreamVersionConflict, writing nothing", async () => {
    const streamId = newStream();
    const read = { state: store.type.initial, version: 0 };
    await store.append(scratch.db, streamId, read, [added(1n)]);
    const stale = store.append(scratch.db, streamId, read, [added(2n), added(3n)]);
    await expect(stale).rejects.toBeInstanceOf(StreamVersionConflict);
    await expect(stale).rejects.toMatchObject({ streamId, expectedVersion: 0 });
    expect((await store.readStream(scratch.db, streamId)).map((e) => e.event)).toEqual([added(1n)]);
  });

  it("lets exactly one of many concurrent appends at the same version through", async () => {
    const streamId = newStream();
    const read = { state: store.type.initial, version: 0 };
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.append(scratch.db, streamId, read, [added(BigInt(i))])),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason)).toEqual(
      Array.from({ length: 7 }, () => expect.any(StreamVersionConflict)),
    );
    expect(await store.readStream(scratch.db, streamId)).toHaveLength(1);
  });

  it("runs a command again on a fresh read after a conflict, until its decision is appended", async () => {
    const streamId = newStream();
    const seen: number[] = [];
    const outcome = await store.execute(scratch.db, streamId, async (current) => {
      seen.push(current.version);
      // Another writer gets in between the first read and its append.
      if (seen.length === 1) await store.append(scratch.db, streamId, current, [added(100n)]);
      return [added(1n)];
    });
    expect(seen).toEqual([0, 1]);
    expect(outcome).toEqual({ state: { total: 101n, entries: 2, closed: false }, version: 2, appended: [added(1n)] });
  });

  it("appends nothing when the command decides nothing, and passes a refusal on", async () => {
    const streamId = newStream();
    await store.append(scratch.db, streamId, { state: store.type.initial, version: 0 }, [{ kind: "closed", reason: "r" }]);
    expect(await store.execute(scratch.db, streamId, () => [])).toMatchObject({ version: 1, appended: [] });
    await expect(store.execute(scratch.db, streamId, ({ state }) => store.type.evolve(state, added(1n)) && [])).rejects.toBeInstanceOf(
      TabClosed,
    );
  });

  it("gives up after its attempts when every append conflicts", async () => {
    const streamId = newStream();
    let decisions = 0;
    const always = store.execute(
      scratch.db,
      streamId,
      async (current) => {
        decisions += 1;
        await store.append(scratch.db, streamId, current, [added(1n)]);
        return [added(2n)];
      },
      { maxAttempts: 3 },
    );
    await expect(always).rejects.toBeInstanceOf(StreamVersionConflict);
    expect(decisions).toBe(3);
  });
});

describe("reading every stream in global order", () => {
  const store = new EventStore(tabType());

  /**
   * Events of `streams` after `from`, paging with `limit`, once `count` of them can be read: a
   * reader stops at the oldest transaction in flight on the whole server, which other work on a
   * shared PostgreSQL may hold open for a moment.
   */
  const readAllOnce = (streams: string[], count: number, from?: GlobalPosition) =>
    waitFor(
      () => readAllOf(streams, from),
      (events) => events.length >= count,
      { what: `${count} events of ${streams.join(", ")}` },
    );

  /** All events after `from`, paging with `limit`, only those of `streams`. */
  async function readAllOf(streams: string[], from?: GlobalPosition, limit = 2): Promise<RecordedEvent<TabEvent>[]> {
    const seen: RecordedEvent<TabEvent>[] = [];
    let after = from;
    for (;;) {
      const page = await store.readAll(scratch.db, after, limit);
      seen.push(...page.filter((e) => streams.includes(e.streamId)));
      if (page.length < limit) return seen;
      after = page[page.length - 1]!.globalPosition;
    }
  }

  it("pages through the events of every stream, each stream in version order", async () => {
    const [a, b] = [newStream(), newStream()];
    const readA = await store.append(scratch.db, a, { state: store.type.initial, version: 0 }, [added(1n)]);
    await store.append(scratch.db, b, { state: store.type.initial, version: 0 }, [added(2n), added(3n)]);
    await store.append(scratch.db, a, readA, [added(4n)]);
    const events = await readAllOnce([a, b], 4);
    expect(events.map((e) => [e.streamId, e.version])).toEqual([
      [a, 1],
      [b, 1],
      [b, 2],
      [a, 2],
    ]);
  });

  it("does not go past a transaction still in flight, so a reader never skips its events", async () => {
    const [early, late] = [newStream(), newStream()];
    const before = (await store.readAll(scratch.db, undefined, 1_000_000)).at(-1)?.globalPosition;
    // The first transaction takes its position, then commits after the second one.
    const inFlight = new pg.Client({ connectionString: scratch.url });
    await inFlight.connect();
    try {
      await inFlight.query("BEGIN");
      await inFlight.query(
        `INSERT INTO outbox_events (id, subject, type, payload, stream_id, stream_version) VALUES ($1, 'shop.orders.order_confirmed', $2, $3, $4, 1)`,
        [randomUUID(), OrderConfirmedSchema.typeName, outboxEntry(OrderConfirmedSchema, { total: { amountMinor: 9n } }).payload, early],
      );
      await store.append(scratch.db, late, { state: store.type.initial, version: 0 }, [added(1n)]);

      expect(await readAllOf([early, late], before)).toEqual([]);

      await inFlight.query("COMMIT");
    } finally {
      await inFlight.end();
    }
    expect((await readAllOnce([early, late], 2, before)).map((e) => e.streamId)).toEqual([early, late]);
  });
});

describe("snapshots", () => {
  const every3 = new EventStore(tabType({ snapshots: { every: 3, schemaVersion: 1 } }));
  const snapshotsOf = (streamId: string) =>
    scratch.db.query<{ schema_version: number; version: number; state: unknown }>(
      "SELECT schema_version, version, state FROM stream_snapshots WHERE stream_id = $1 ORDER BY schema_version",
      [streamId],
    );

  it("stores the folded state whenever an append reaches a multiple of `every` events", async () => {
    const streamId = newStream();
    let read = await every3.append(scratch.db, streamId, { state: every3.type.initial, version: 0 }, [added(1n), added(2n)]);
    expect(await snapshotsOf(streamId)).toEqual([]);
    read = await every3.append(scratch.db, streamId, read, [added(3n), added(4n)]);
    expect(await snapshotsOf(streamId)).toEqual([{ schema_version: 1, version: 4, state: { total: "10", entries: 4, closed: false } }]);
    read = await every3.append(scratch.db, streamId, read, [added(5n)]);
    expect((await snapshotsOf(streamId)).map((s) => s.version)).toEqual([4]);
    await every3.append(scratch.db, streamId, read, [added(6n)]);
    expect((await snapshotsOf(streamId)).map((s) => s.version)).toEqual([6]);
  });

  it("loads from the snapshot and the events after it, and a fold of another version ignores the snapshot", async () => {
    const streamId = newStream();
    const read = await every3.append(scratch.db, streamId, { state: every3.type.initial, version: 0 }, [added(1n), added(2n), added(3n)]);
    await every3.append(scratch.db, streamId, read, [added(4n)]);
    // A snapshot that disagrees with the events shows which of the two a load used.
    await scratch.db.execute(
      `UPDATE stream_snapshots SET state = '{"total": "1000", "entries": 3, "closed": false}' WHERE stream_id = $1`,
      [streamId],
    );
    expect(await every3.load(scratch.db, streamId)).toEqual({ state: { total: 1004n, entries: 4, closed: false }, version: 4 });

    const changedFold = new EventStore(tabType({ snapshots: { every: 3, schemaVersion: 2 } }));
    expect(await changedFold.load(scratch.db, streamId)).toEqual({ state: { total: 10n, entries: 4, closed: false }, version: 4 });
  });

  it("refolds every stream and names the snapshots that disagree, run ahead of their stream, or belong to a stream that no longer folds", async () => {
    const store = new EventStore(tabType({ snapshots: { every: 2, schemaVersion: 7 } }));
    const start = { state: store.type.initial, version: 0 };
    const [good, tampered, ahead, broken] = [newStream(), newStream(), newStream(), newStream()];
    await store.append(scratch.db, good, start, [added(1n), added(2n), added(3n)]);
    await store.append(scratch.db, tampered, start, [added(1n), added(2n)]);
    await store.append(scratch.db, ahead, start, [added(1n), added(2n)]);
    // Written by a fold that had no rule against it.
    const lenient = new EventStore({ ...tabType(), evolve: (tab: Tab) => tab });
    await lenient.append(scratch.db, broken, start, [{ kind: "closed", reason: "r" }, added(5n)]);
    await scratch.db.execute(`UPDATE stream_snapshots SET state = jsonb_set(state, '{total}', '"4"') WHERE stream_id = $1`, [tampered]);
    await scratch.db.execute(`UPDATE stream_snapshots SET version = 5 WHERE stream_id = $1`, [ahead]);

    const report = await store.refold(scratch.db, { pageSize: 3 });
    expect(report.mismatches).toHaveLength(2);
    expect(report.mismatches).toEqual(
      expect.arrayContaining([
        {
          streamId: tampered,
          version: 2,
          folded: { total: "3", entries: 2, closed: false },
          stored: { total: "4", entries: 2, closed: false },
        },
        { streamId: ahead, version: 5, folded: undefined, stored: { total: "3", entries: 2, closed: false } },
      ]),
    );
    expect(report.unfoldable).toEqual([{ streamId: broken, version: 2, error: "the tab is closed" }]);
    expect(report.snapshotsChecked).toBe(3);
    expect(report.streams).toBeGreaterThanOrEqual(4);
    expect(report.snapshotsOfOtherVersions).toBeGreaterThan(0);
  });
});

describe("stream events are the outbox", () => {
  // A database of its own: the relay publishes every unsent row it finds.
  let own: ScratchDatabase;
  let nats: TestNats;
  let relay: OutboxRelay | undefined;
  const context = uniqueContext();

  beforeAll(async () => {
    [own, nats] = await Promise.all([createScratchDatabase({ streams: true }), connectTestNats()]);
    await ensureStreams(nats.jsm, [context]);
  });

  afterAll(async () => {
    await relay?.stop();
    await nats?.close([context]);
    await own?.drop();
  });

  it("publishes each appended event once, with its event id as message id, and marks it sent", async () => {
    const store = new EventStore(tabType({ context }));
    relay = startOutboxRelay({ db: own.db, nc: nats.nc, logger: silentLogger, pollIntervalMs: 50 });
    const streamId = newStream();
    await store.execute(own.db, streamId, () => [added(1n), added(2n)]);
    const events = await store.readStream(own.db, streamId);
    await waitFor(
      () => own.db.query("SELECT 1 FROM outbox_events WHERE stream_id = $1 AND sent_at IS NULL", [streamId]),
      (unsent) => unsent.length === 0,
      { what: "the stream's rows to be sent" },
    );
    expect(await streamMessageCount(nats.jsm, context)).toBe(2);
    const stored = await nats.jsm.streams.getMessage(streamName(context), { seq: 1 });
    expect(stored.header.get("Nats-Msg-Id")).toBe(events[0]!.eventId);
  });
});
