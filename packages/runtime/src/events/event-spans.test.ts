import { Writable } from "node:stream";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace";
import { OrderPlacedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { currentContext, type RequestContext, runWithContext } from "../request-context.js";
import { initTracing } from "../tracing.js";
import { type EventConsumer, onEvent, onEvents, startEventConsumer } from "./event-consumer.js";
import { type OutboxRelay, startOutboxRelay } from "./outbox-relay.js";
import { ensureStreams } from "./streams.js";
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

const spans = new InMemorySpanExporter();
let scratch: ScratchDatabase;
let nats: TestNats;
const contexts: string[] = [];
const running: (EventConsumer | OutboxRelay)[] = [];

beforeAll(async () => {
  initTracing("events-test", [new SimpleSpanProcessor({ exporter: spans })]);
  [scratch, nats] = await Promise.all([createScratchDatabase(), connectTestNats()]);
});

// One relay at a time: two would both publish a row now and then, each in a span of its own.
afterEach(async () => {
  for (const part of running.splice(0).reverse()) await part.stop();
});

afterAll(async () => {
  await nats?.close(contexts);
  await scratch?.drop();
});

async function newContext(): Promise<string> {
  const context = uniqueContext();
  contexts.push(context);
  await ensureStreams(nats.jsm, [context]);
  return context;
}

function relay(): OutboxRelay {
  const started = startOutboxRelay({ db: scratch.db, nc: nats.nc, logger: silentLogger, pollIntervalMs: 50 });
  running.push(started);
  return started;
}

async function consume(context: string, handlers: Parameters<typeof startEventConsumer>[0]["handlers"]): Promise<EventConsumer> {
  const consumer = await startEventConsumer({
    nc: nats.nc,
    db: scratch.db,
    logger: silentLogger,
    consumerName: readerOf(context),
    context,
    handlers,
  });
  running.push(consumer);
  return consumer;
}

const traceparentOf = (traceId: string, spanId: string, flags = "01") => `00-${traceId}-${spanId}-${flags}`;
const work = (traceId: string, flags = "01"): RequestContext => ({
  correlationId: `corr-${traceId.slice(0, 8)}`,
  traceparent: traceparentOf(traceId, "b7ad6b7169203331", flags),
});

const placeOrder = (context: string, orderId: string, within: RequestContext) =>
  runWithContext(within, () =>
    scratch.db.transaction((tx) => enqueueTestEvent(tx, context, OrderPlacedSchema, { orderId, userId: "u-1" })),
  );

/**
 * The publish spans of a trace: one, or two when a poll of the relay claimed a committed row just
 * before the commit handed it over too (JetStream keeps one message; each publish has its span).
 */
const publishes = (traceId: string, subject: string) =>
  spansOf(traceId).filter((span) => span.kind === SpanKind.PRODUCER && span.name === `publish ${subject}`);
const idsOf = (list: ReadableSpan[]) => list.map((span) => span.spanContext().spanId);

const spansOf = (traceId: string) => spans.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
const only = (list: ReadableSpan[], kind: SpanKind, name: string) => {
  const found = list.filter((span) => span.kind === kind && span.name === name);
  expect(found, `${SpanKind[kind]} ${name} among ${list.map((span) => span.name).join(", ")}`).toHaveLength(1);
  return found[0]!;
};

describe("spans of the event backbone", () => {
  it("makes an event's outbox write, publish and processing one chain of its work's trace, the handler running in the last", async () => {
    const context = await newContext();
    relay();
    const logged: Record<string, unknown>[] = [];
    const logger = createLogger(
      "events-test",
      "info",
      new Writable({
        write(chunk, _encoding, done) {
          logged.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    const seen: (RequestContext | undefined)[] = [];
    await consume(context, {
      [OrderPlacedSchema.typeName]: onEvent(OrderPlacedSchema, async (event) => {
        seen.push(currentContext());
        logger.info({ orderId: event.orderId }, "handled");
      }),
    });
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const subject = `shop.${context}.order_placed`;

    const { id: eventId } = await placeOrder(context, "o-1", work(traceId));

    const list = await waitFor(
      () => spansOf(traceId),
      (found) => found.some((span) => span.kind === SpanKind.CONSUMER),
      { what: "the processing span" },
    );
    const create = only(list, SpanKind.PRODUCER, `create ${subject}`);
    const sends = publishes(traceId, subject);
    const send = sends[0]!;
    const process = only(list, SpanKind.CONSUMER, `process ${subject}`);
    expect(create.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
    for (const each of sends) expect(each.parentSpanContext?.spanId).toBe(create.spanContext().spanId);
    expect(idsOf(sends)).toContain(process.parentSpanContext?.spanId);
    expect(create.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "create",
      "messaging.destination.name": subject,
      "messaging.message.id": eventId,
      "db.system.name": "postgresql",
      "db.collection.name": "outbox_events",
      "db.operation.name": "INSERT",
      "db.response.returned_rows": 1,
    });
    expect(send.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
      "messaging.destination.name": subject,
      "messaging.message.id": eventId,
    });
    expect(process.attributes).toMatchObject({
      "messaging.system": "nats",
      "messaging.operation.type": "process",
      "messaging.destination.name": subject,
      "messaging.consumer.group.name": readerOf(context),
      "messaging.message.id": eventId,
    });

    const processSpanId = process.spanContext().spanId;
    expect(seen[0]).toMatchObject({ correlationId: work(traceId).correlationId, traceparent: traceparentOf(traceId, processSpanId) });
    expect(logged.find((line) => line.msg === "handled")).toMatchObject({ trace_id: traceId, span_id: processSpanId });
  });

  it("gives rows the relay finds in the table the same parents", async () => {
    const context = await newContext();
    const traceId = "1af7651916cd43dd8448eb211c80319c";
    // Written while no relay runs: the next one finds the row by its poll and reads its headers from the table.
    await placeOrder(context, "o-2", work(traceId));
    relay();

    const send = await waitFor(
      () => spansOf(traceId).find((span) => span.name.startsWith("publish ")),
      (found) => found !== undefined,
      { what: "the publish span" },
    );
    const create = only(spansOf(traceId), SpanKind.PRODUCER, `create shop.${context}.order_placed`);
    expect(send!.parentSpanContext?.spanId).toBe(create.spanContext().spanId);
  });

  it("processes a batch of events of several traces in one span, a child of the first and linked to the others", async () => {
    const context = await newContext();
    relay();
    const traces = ["2af7651916cd43dd8448eb211c80319c", "3af7651916cd43dd8448eb211c80319c"];
    for (const [index, traceId] of traces.entries()) await placeOrder(context, `o-${index}`, work(traceId));
    await waitFor(
      () => streamMessageCount(nats.jsm, context),
      (count) => count === 2,
      { what: "both events in the stream" },
    );
    const batches: string[][] = [];
    await consume(context, {
      [OrderPlacedSchema.typeName]: onEvents(OrderPlacedSchema, async (events) => {
        batches.push(events.map(({ event }) => event.orderId));
      }),
    });

    const process = await waitFor(
      () => spans.getFinishedSpans().find((span) => span.kind === SpanKind.CONSUMER && span.spanContext().traceId === traces[0]),
      (found) => found !== undefined,
      { what: "the batch's processing span" },
    );
    expect(batches).toEqual([["o-0", "o-1"]]);
    const [firstSends, secondSends] = traces.map((traceId) => idsOf(publishes(traceId, `shop.${context}.order_placed`)));
    expect(firstSends).toContain(process!.parentSpanContext?.spanId);
    expect(process!.links).toHaveLength(1);
    expect(secondSends).toContain(process!.links[0]!.context.spanId);
    expect(process!.attributes).toMatchObject({
      "messaging.batch.message_count": 2,
      "messaging.destination.name": `shop.${context}.order_placed`,
    });
    expect(spansOf(traces[1]!).filter((span) => span.kind === SpanKind.CONSUMER)).toEqual([]);
  });

  it("records nothing for work whose trace is not sampled, which still travels", async () => {
    const context = await newContext();
    relay();
    const seen: (RequestContext | undefined)[] = [];
    await consume(context, {
      [OrderPlacedSchema.typeName]: onEvent(OrderPlacedSchema, async () => {
        seen.push(currentContext());
      }),
    });
    const traceId = "4af7651916cd43dd8448eb211c80319c";

    await placeOrder(context, "o-3", work(traceId, "00"));

    await waitFor(
      () => seen.length,
      (count) => count === 1,
      { what: "the event handled" },
    );
    expect(seen[0]!.traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-00$`));
    expect(spansOf(traceId)).toEqual([]);
  });
});
