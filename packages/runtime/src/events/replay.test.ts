import { fromBinary } from "@bufbuild/protobuf";
import { OrderCancelledSchema, OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOutboxRelay } from "./outbox-relay.js";
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
} from "./test-support.js";

describe("replayStream", () => {
  const context = uniqueContext();
  const emptyContext = uniqueContext();
  let scratch: ScratchDatabase;
  let nats: TestNats;
  let placedIds: string[];

  beforeAll(async () => {
    [scratch, nats] = await Promise.all([createScratchDatabase(), connectTestNats()]);
    await ensureStreams(nats.jsm, [context, emptyContext]);
    placedIds = await scratch.db.transaction(async (tx) => {
      const ids: string[] = [];
      for (let i = 0; i < 120; i += 1) {
        ids.push((await enqueueTestEvent(tx, context, OrderPlacedSchema, { orderId: `o-${i}`, userId: "u-1" })).id);
        if (i % 10 === 0) await enqueueTestEvent(tx, context, OrderCancelledSchema, { orderId: `o-${i}`, reason: "USER_REQUESTED" });
      }
      return ids;
    });
    const relay = startOutboxRelay({ db: scratch.db, nc: nats.nc, logger: silentLogger });
    await relay.stop();
    expect(await streamMessageCount(nats.jsm, context)).toBe(132);
  });
  afterAll(async () => {
    await nats?.close([context, emptyContext]);
    await scratch?.drop();
  });

  it("reads a stream from the beginning, in order, until caught up", async () => {
    const events: StoredEvent[] = [];

    const handled = await replayStream({
      nc: nats.nc,
      stream: streamName(context),
      batchSize: 16,
      handle: (event) => void events.push(event),
    });

    expect(handled).toBe(132);
    expect(events.map((event) => event.streamSequence)).toEqual(Array.from({ length: 132 }, (_, i) => i + 1));
    expect(events.filter((event) => event.type === OrderPlacedSchema.typeName).map((event) => event.eventId)).toEqual(placedIds);
  });

  it("reads only the subjects asked for", async () => {
    const orderIds: string[] = [];

    const handled = await replayStream({
      nc: nats.nc,
      stream: streamName(context),
      filterSubject: `shop.${context}.order_cancelled`,
      handle: (event) => void orderIds.push(fromBinary(OrderCancelledSchema, event.data).orderId),
    });

    expect(handled).toBe(12);
    expect(orderIds).toEqual(Array.from({ length: 12 }, (_, i) => `o-${i * 10}`));
  });

  it("waits for each handler before the next event", async () => {
    const order: string[] = [];

    await replayStream({
      nc: nats.nc,
      stream: streamName(context),
      filterSubject: `shop.${context}.order_cancelled`,
      handle: async (event) => {
        order.push(`start ${event.streamSequence}`);
        await new Promise((resolve) => setImmediate(resolve));
        order.push(`end ${event.streamSequence}`);
      },
    });

    expect(order.slice(0, 4)).toEqual(["start 2", "end 2", "start 13", "end 13"]);
  });

  it("returns at once for an empty stream or a subject with no events", async () => {
    const handle = () => {
      throw new Error("no event expected");
    };

    expect(await replayStream({ nc: nats.nc, stream: streamName(emptyContext), handle })).toBe(0);
    expect(await replayStream({ nc: nats.nc, stream: streamName(context), filterSubject: `shop.${context}.never_published`, handle })).toBe(
      0,
    );
  });

  it("fails when the stream does not exist", async () => {
    await expect(replayStream({ nc: nats.nc, stream: "SHOP_NO_SUCH_CONTEXT_X", handle: () => {} })).rejects.toThrow(/stream not found/);
  });

  it("stops and rethrows when a handler fails", async () => {
    let calls = 0;

    const replay = replayStream({
      nc: nats.nc,
      stream: streamName(context),
      handle: () => {
        calls += 1;
        if (calls === 3) throw new Error("projection rejected event 3");
      },
    });

    await expect(replay).rejects.toThrow("projection rejected event 3");
    expect(calls).toBe(3);
  });
});
