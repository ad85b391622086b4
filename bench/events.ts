/**
 * Event pipeline throughput and delivery latency, with the runtime's own code: producers write
 * events with `enqueueEvents` in transactions at a steady rate (many events per transaction, then
 * one per transaction), `startOutboxRelay` publishes them to JetStream, and a durable
 * `startEventConsumer` in another process applies them through the inbox with an effect row each
 * (written per delivered batch by an `onEvents` handler).
 * Latency runs from the producer's commit to the commit of the consumer's effect, and is split at
 * the moment JetStream stored the message (read back from the stream afterwards): relay, then
 * consumer. It runs on a NATS server of its own (tests/support), a private context (stream
 * `SHOP_BENCH_EVENTS_<hex>`) and a scratch database, all removed at the end.
 *
 *   node --import tsx bench/events.ts
 *   BENCH_EVENT_RATE=5000 BENCH_WARMUP_MS=2000 BENCH_DURATION_MS=5000 BENCH_EVENTS_PER_TRANSACTION=50 \
 *   BENCH_RELAY_BATCH_SIZE=500 BENCH_RELAY_POLL_MS=1000 BENCH_CONSUMER_BATCH_SIZE=64 node --import tsx bench/events.ts
 *
 * Other knobs: BENCH_MODES (batched,single), BENCH_PRODUCER_CONNECTIONS, BENCH_DRAIN_TIMEOUT_MS.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { create, createFileRegistry, type Message } from "@bufbuild/protobuf";
import type { GenMessage } from "@bufbuild/protobuf/codegenv2";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type, FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import {
  connectNats,
  createLogger,
  createSqlDatabase,
  enqueueEvents,
  ensureStreams,
  env,
  eventHeaders,
  loadConfig,
  onEvents,
  outboxEntry,
  type SqlDatabase,
  startEventConsumer,
  startOutboxRelay,
  streamName,
} from "@shop/runtime";
import { waitFor } from "@shop/runtime/testing";
import { DeliverPolicy, type JetStreamClient } from "nats";
import { createScratchDatabase, readerOf } from "../packages/runtime/src/events/test-support.js";
import { NatsServer } from "../tests/support/nats-server.js";
import { Cleanup } from "./lib/cleanup.js";
import { type CpuGroup, type CpuWindow, formatCpuTable, PostgresBackends, startCpuWindow } from "./lib/cpu.js";
import { type LatencySummary, summarize } from "./lib/percentiles.js";
import { describeMachine, formatMs, formatTable } from "./lib/report.js";
import { runAtSteadyRate, type SteadyRateResult } from "./lib/steady-rate.js";

const targets = { eventsPerSecond: 5_000, p99Ms: 100 };
const modes = ["batched", "single"] as const;
type Mode = (typeof modes)[number];

const config = loadConfig({
  BENCH_EVENT_RATE: env.int(targets.eventsPerSecond, { min: 1 }),
  BENCH_WARMUP_MS: env.int(2_000, { min: 0 }),
  BENCH_DURATION_MS: env.int(5_000, { min: 100 }),
  BENCH_MODES: env.list([...modes]),
  /** Events per transaction in the batched mode. */
  BENCH_EVENTS_PER_TRANSACTION: env.int(50, { min: 2 }),
  BENCH_PRODUCER_CONNECTIONS: env.int(8, { min: 1 }),
  /** The runtime's own defaults unless set. */
  BENCH_RELAY_BATCH_SIZE: env.int(500, { min: 1, max: 10_000 }),
  BENCH_RELAY_POLL_MS: env.int(1_000, { min: 1, max: 60_000 }),
  BENCH_CONSUMER_BATCH_SIZE: env.int(64, { min: 1 }),
  /** How long the consumer may take to apply a mode's backlog once production stops. */
  BENCH_DRAIN_TIMEOUT_MS: env.int(600_000, { min: 1_000 }),
  /** Length of each apply-ceiling probe at the end; 0 skips it. */
  BENCH_PROBE_MS: env.int(3_000, { min: 0 }),
});

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

/** The fields of an OrderConfirmed, so payloads have a realistic size. */
type BenchEvent = Message<string> & { orderId: string; userId: string; currencyCode: string; amountMinor: bigint };

/**
 * The event type of the private context, `shop.<context>.v1.BenchEvent`, so `enqueueEvent` files
 * it under `shop.<context>.bench_event` and nobody else's stream sees it.
 */
function benchEventSchema(context: string): GenMessage<BenchEvent> {
  const field = (name: string, number: number, type: FieldDescriptorProto_Type) => ({
    name,
    number,
    type,
    label: FieldDescriptorProto_Label.OPTIONAL,
    jsonName: name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()),
  });
  const file = create(FileDescriptorProtoSchema, {
    name: `bench/${context}.proto`,
    package: `shop.${context}.v1`,
    syntax: "proto3",
    messageType: [
      {
        name: "BenchEvent",
        field: [
          field("order_id", 1, FieldDescriptorProto_Type.STRING),
          field("user_id", 2, FieldDescriptorProto_Type.STRING),
          field("currency_code", 3, FieldDescriptorProto_Type.STRING),
          field("amount_minor", 4, FieldDescriptorProto_Type.INT64),
        ],
      },
    ],
  });
  return createFileRegistry(file, () => undefined).getMessage(`shop.${context}.v1.BenchEvent`) as GenMessage<BenchEvent>;
}

// ---------------------------------------------------------------- consumer process

type ParentMessage = { kind: "count" } | { kind: "collect" } | { kind: "stop" };
type ChildMessage =
  | { kind: "ready" }
  | { kind: "count"; applied: number }
  | { kind: "applied"; events: [string, number][] }
  | { kind: "stopped" };

/** The consuming service: a durable consumer whose effect is one row per event. */
async function runConsumer(databaseUrl: string, natsUrl: string, context: string, batchSize: number): Promise<void> {
  const send = (message: ChildMessage) => process.send!(message);
  const schema = benchEventSchema(context);
  const applied: [string, number][] = [];
  let appliedBefore = 0;
  const db = createSqlDatabase(databaseUrl, { poolSize: 2 });
  const nc = await connectNats("bench-events-consumer", natsUrl);
  const consumer = await startEventConsumer({
    nc,
    db,
    logger: createLogger("bench-events-consumer", "warn"),
    consumerName: readerOf(context),
    context,
    batchSize,
    handlers: {
      // One effect row per event, the rows of the events that arrived together in one statement.
      [schema.typeName]: onEvents(schema, async (events, tx) => {
        await tx.execute(`INSERT INTO effects (event_id, note) SELECT unnest($1::uuid[]), unnest($2::text[])`, [
          events.map(({ meta }) => meta.eventId),
          events.map(({ event }) => event.orderId),
        ]);
        // An effect becomes visible when its transaction commits.
        tx.afterCommit(() => {
          const committedAt = now();
          for (const { meta } of events) applied.push([meta.eventId, committedAt]);
        });
      }),
    },
  });
  process.on("message", (message: ParentMessage) => {
    if (message.kind === "count") {
      send({ kind: "count", applied: appliedBefore + applied.length });
      return;
    }
    if (message.kind === "collect") {
      appliedBefore += applied.length;
      send({ kind: "applied", events: applied.splice(0) });
      return;
    }
    void (async () => {
      await consumer.stop();
      await nc.close();
      await db.close();
      send({ kind: "stopped" });
      process.disconnect();
    })();
  });
  // Without its parent there is nobody to stop it.
  process.once("disconnect", () => process.exit(0));
  send({ kind: "ready" });
}

class ConsumerProcess {
  private constructor(private readonly child: ChildProcess) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(databaseUrl: string, natsUrl: string, context: string): Promise<ConsumerProcess> {
    const child = fork(fileURLToPath(import.meta.url), [
      "consume",
      databaseUrl,
      natsUrl,
      context,
      String(config.BENCH_CONSUMER_BATCH_SIZE),
    ]);
    const consumer = new ConsumerProcess(child);
    await consumer.reply("ready");
    return consumer;
  }

  private async reply<K extends ChildMessage["kind"]>(kind: K, request?: ParentMessage): Promise<Extract<ChildMessage, { kind: K }>> {
    const answer = new Promise<Extract<ChildMessage, { kind: K }>>((resolve, reject) => {
      const onMessage = (message: ChildMessage) => {
        if (message.kind !== kind) return;
        this.child.off("message", onMessage);
        this.child.off("exit", onExit);
        resolve(message as Extract<ChildMessage, { kind: K }>);
      };
      const onExit = (code: number | null) => reject(new Error(`the consumer process exited (code ${code}) before answering "${kind}"`));
      this.child.on("message", onMessage);
      this.child.once("exit", onExit);
    });
    if (request) this.child.send(request);
    return answer;
  }

  /** Events applied since the consumer started; asking costs the database nothing. */
  async appliedCount(): Promise<number> {
    return (await this.reply("count", { kind: "count" })).applied;
  }

  /** Event ids applied since the last collect, with the commit time of their effect. */
  async collect(): Promise<Map<string, number>> {
    return new Map((await this.reply("applied", { kind: "collect" })).events);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, "exit");
    await this.reply("stopped", { kind: "stop" });
    await exited;
  }
}

// ---------------------------------------------------------------- producers and measurement

interface Pipeline {
  context: string;
  schema: GenMessage<BenchEvent>;
  producerDb: SqlDatabase;
  js: JetStreamClient;
  consumer: ConsumerProcess;
  /** Events enqueued so far, all modes and the warm-up together. */
  enqueued: number;
}

interface ModeRun {
  mode: Mode;
  eventsPerTransaction: number;
  production: SteadyRateResult;
  committed: Map<string, number>;
  stored: Map<string, number>;
  applied: Map<string, number>;
  cpu: CpuWindow;
}

/** When JetStream stored each message from `fromSequence` on, read back with a headers-only ordered consumer. */
async function storedTimes(js: JetStreamClient, stream: string, fromSequence: number, count: number): Promise<Map<string, number>> {
  const times = new Map<string, number>();
  if (count === 0) return times;
  const reader = await js.consumers.get(stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSequence,
    headers_only: true,
  });
  const messages = await reader.consume();
  for await (const m of messages) {
    times.set(m.headers?.get(eventHeaders.messageId) ?? "", m.info.timestampNanos / 1e6);
    if (times.size >= count || m.info.pending === 0) break;
  }
  await messages.close();
  return times;
}

interface CpuMeasurement {
  groups: CpuGroup[];
  postgres: PostgresBackends;
}

async function runMode(pipeline: Pipeline, mode: Mode, durationMs: number, cpuMeasurement: CpuMeasurement): Promise<ModeRun> {
  const eventsPerTransaction = mode === "batched" ? config.BENCH_EVENTS_PER_TRANSACTION : 1;
  const stream = streamName(pipeline.context);
  const jsm = await pipeline.js.jetstreamManager();
  const firstSequence = (await jsm.streams.info(stream)).state.last_seq + 1;
  const committed = new Map<string, number>();
  const userId = randomUUID();
  const produce = async () => {
    const entries = Array.from({ length: eventsPerTransaction }, () =>
      outboxEntry(pipeline.schema, { orderId: randomUUID(), userId, currencyCode: "USD", amountMinor: 1999n }),
    );
    const ids = (await pipeline.producerDb.transaction((tx) => enqueueEvents(tx, entries))).map((event) => event.id);
    const committedAt = now();
    for (const id of ids) committed.set(id, committedAt);
  };

  await cpuMeasurement.postgres.refresh();
  const cpu = startCpuWindow(cpuMeasurement.groups);
  const production = await runAtSteadyRate(produce, {
    ratePerSecond: config.BENCH_EVENT_RATE / eventsPerTransaction,
    durationMs,
    maxInFlight: config.BENCH_PRODUCER_CONNECTIONS,
  });
  pipeline.enqueued += committed.size;
  await waitFor(
    () => pipeline.consumer.appliedCount(),
    (applied) => applied >= pipeline.enqueued,
    {
      timeoutMs: config.BENCH_DRAIN_TIMEOUT_MS,
      intervalMs: 50,
      what: `the consumer to apply all ${pipeline.enqueued} events`,
    },
  );
  await cpuMeasurement.postgres.refresh();
  const cpuWindow = cpu.finish();
  const applied = await pipeline.consumer.collect();
  const stored = await storedTimes(pipeline.js, stream, firstSequence, committed.size);
  if (production.errors > 0) throw new Error(`${production.errors} producer transactions failed, first: ${String(production.firstError)}`);
  return { mode, eventsPerTransaction, production, committed, stored, applied, cpu: cpuWindow };
}

interface ApplyProbe {
  how: string;
  eventsPerTransaction: number;
  workers: number;
  /** `row` writes each event's effect row with a statement of its own (an onEvent handler), `batch` all of them with one (onEvents). */
  effects: "row" | "batch";
}

/**
 * What ways of applying events allow on this database, with NATS out of the picture: workers
 * each applying events serially, `eventsPerTransaction` per transaction (one multi-row inbox
 * insert, then the effect rows), as `startEventConsumer` applies what arrived together.
 */
async function probeApplyCeiling(db: SqlDatabase, probe: ApplyProbe, durationMs: number): Promise<number> {
  const consumerName = "apply_ceiling_probe";
  let applied = 0;
  const start = performance.now();
  const worker = async () => {
    while (performance.now() - start < durationMs) {
      await db.transaction(async (tx) => {
        const eventIds = Array.from({ length: probe.eventsPerTransaction }, () => randomUUID());
        await tx.execute(`INSERT INTO inbox_events (consumer, event_id) SELECT $1, unnest($2::uuid[]) ON CONFLICT DO NOTHING`, [
          consumerName,
          eventIds,
        ]);
        if (probe.effects === "batch") {
          await tx.execute(`INSERT INTO effects (event_id, note) SELECT unnest($1::uuid[]), 'probe'`, [eventIds]);
        } else {
          for (const eventId of eventIds)
            await tx.execute(`INSERT INTO effects (event_id, note) VALUES ($1::uuid, $2)`, [eventId, "probe"]);
        }
      });
      applied += probe.eventsPerTransaction;
    }
  };
  await Promise.all(Array.from({ length: probe.workers }, worker));
  return (applied * 1000) / (performance.now() - start);
}

async function reportApplyCeiling(db: SqlDatabase, parallelWorkers: number): Promise<void> {
  const batch = config.BENCH_CONSUMER_BATCH_SIZE;
  const probes: ApplyProbe[] = [
    { how: "1 event per transaction, 1 worker (one event at hand)", eventsPerTransaction: 1, workers: 1, effects: "row" },
    {
      how: `1 event per transaction, ${parallelWorkers} workers in parallel`,
      eventsPerTransaction: 1,
      workers: parallelWorkers,
      effects: "row",
    },
    {
      how: `${batch} events per transaction, an effect statement per event (onEvent)`,
      eventsPerTransaction: batch,
      workers: 1,
      effects: "row",
    },
    {
      how: `${batch} events per transaction, one effect statement (onEvents, this benchmark's consumer)`,
      eventsPerTransaction: batch,
      workers: 1,
      effects: "batch",
    },
  ];
  const rows: (string | number)[][] = [];
  for (const probe of probes) rows.push([probe.how, Math.round(await probeApplyCeiling(db, probe, config.BENCH_PROBE_MS))]);
  console.log();
  console.log(`apply ceiling on this database, no NATS (inbox row + effect row per event, each way for ${config.BENCH_PROBE_MS} ms):`);
  console.log(formatTable(["how events are applied", "events/s"], rows));
}

// ---------------------------------------------------------------- report

interface Stages {
  endToEnd: LatencySummary;
  relay: LatencySummary;
  consumer: LatencySummary;
  /** Events per second from the first to the last event of each stage. */
  rates: { committed: number; endToEnd: number; relay: number; consumer: number };
  missing: number;
}

const ratePerSecond = (count: number, times: number[]) => (count * 1000) / Math.max(1e-3, Math.max(...times) - Math.min(...times));

function stagesOf(run: ModeRun): Stages {
  const endToEnd: number[] = [];
  const relay: number[] = [];
  const consumer: number[] = [];
  const firstCommits: number[] = [];
  const lastEffects: number[] = [];
  let missing = 0;
  for (const [id, committedAt] of run.committed) {
    const storedAt = run.stored.get(id);
    const appliedAt = run.applied.get(id);
    if (storedAt === undefined || appliedAt === undefined) {
      missing++;
      continue;
    }
    endToEnd.push(appliedAt - committedAt);
    relay.push(storedAt - committedAt);
    consumer.push(appliedAt - storedAt);
    firstCommits.push(committedAt);
    lastEffects.push(appliedAt);
  }
  const count = endToEnd.length;
  return {
    endToEnd: summarize(endToEnd),
    relay: summarize(relay),
    consumer: summarize(consumer),
    rates: {
      committed: (run.committed.size * 1000) / run.production.elapsedMs,
      endToEnd: (count * 1000) / Math.max(1e-3, Math.max(...lastEffects) - Math.min(...firstCommits)),
      relay: ratePerSecond(count, [...run.stored.values()]),
      consumer: ratePerSecond(count, [...run.applied.values()]),
    },
    missing,
  };
}

/** The stages that fell clearly behind what reached them, each with its rate and its input's. */
function stagesBehind(stages: Stages): string[] {
  const { committed, relay, consumer } = stages.rates;
  const behind: string[] = [];
  if (relay < 0.9 * committed) behind.push(`relay (published ${relay.toFixed(0)} events/s of ${committed.toFixed(0)} committed)`);
  if (consumer < 0.9 * relay) behind.push(`consumer (applied ${consumer.toFixed(0)} events/s of ${relay.toFixed(0)} published)`);
  return behind;
}

/** Prints the figures; returns how many events never reached the consumer's effect. */
function report(runs: ModeRun[]): number {
  const staged = runs.map((run) => ({ run, stages: stagesOf(run) }));
  const round = (n: number) => Math.round(n);
  console.log();
  console.log(
    formatTable(
      [
        "mode",
        "events/tx",
        "events",
        "target ev/s",
        "committed ev/s",
        "end-to-end ev/s",
        "relay ev/s",
        "consumer ev/s",
        "producer behind ms",
        "lost",
      ],
      staged.map(({ run, stages }) => [
        run.mode,
        run.eventsPerTransaction,
        run.committed.size,
        config.BENCH_EVENT_RATE,
        round(stages.rates.committed),
        round(stages.rates.endToEnd),
        round(stages.rates.relay),
        round(stages.rates.consumer),
        round(run.production.behindMs),
        stages.missing,
      ]),
    ),
  );
  console.log();
  const latencyRows = staged.flatMap(({ run, stages }) =>
    (
      [
        ["commit -> effect committed (end to end)", stages.endToEnd],
        ["  commit -> stored in JetStream (relay)", stages.relay],
        ["  stored -> effect committed (consumer)", stages.consumer],
      ] as const
    ).map(([stage, summary]) => [
      run.mode,
      stage,
      formatMs(summary.p50),
      formatMs(summary.p90),
      formatMs(summary.p99),
      formatMs(summary.max),
    ]),
  );
  console.log(formatTable(["mode", "latency (ms)", "p50", "p90", "p99", "max"], latencyRows));
  console.log();
  const met = (ok: boolean) => (ok ? "met" : "MISSED");
  for (const { run, stages } of staged) {
    const rateMet = stages.rates.endToEnd >= 0.98 * targets.eventsPerSecond;
    const latencyMet = stages.endToEnd.p99 < targets.p99Ms;
    console.log(
      `${run.mode}: ${round(stages.rates.endToEnd)} events/s end to end (target ${targets.eventsPerSecond}: ${met(rateMet)}), ` +
        `p99 ${formatMs(stages.endToEnd.p99)} ms (target < ${targets.p99Ms} ms: ${met(latencyMet)})` +
        (stagesBehind(stages).length > 0 ? `; behind: ${stagesBehind(stages).join(", ")}` : ""),
    );
  }
  for (const { run } of staged) {
    console.log();
    console.log(
      `CPU in ${run.mode} mode, production and drain (${run.cpu.cores} cores; machine busy ${run.cpu.machineBusyPercent.toFixed(0)}% of all cores, whoever used them):`,
    );
    const { table, totalMsPerUnit } = formatCpuTable(run.cpu, "event", run.committed.size);
    console.log(table);
    console.log(
      `CPU-bound ceiling: ${(totalMsPerUnit * 1000).toFixed(0)} µs of CPU per event, so ${run.cpu.cores} cores given to this pipeline alone ` +
        `would carry at most ~${Math.round((run.cpu.cores * 1000) / totalMsPerUnit)} events/s.`,
    );
  }
  return staged.reduce((lost, { stages }) => lost + stages.missing, 0);
}

async function main(): Promise<number> {
  const selectedModes = config.BENCH_MODES.map((mode) => {
    if (!modes.includes(mode as Mode)) throw new Error(`BENCH_MODES: "${mode}" is not one of ${modes.join(", ")}`);
    return mode as Mode;
  });
  console.log(`${await describeMachine()} (before)`);
  const context = `bench_events_${randomBytes(4).toString("hex")}`;
  const logger = createLogger("bench-events", "warn");
  const cleanup = new Cleanup();
  try {
    const dir = await mkdtemp(path.join(tmpdir(), "bench-events-"));
    cleanup.add("the temporary folder", () => rm(dir, { recursive: true, force: true }));
    const natsServer = await NatsServer.start({ dir });
    cleanup.add("the NATS server", () => natsServer.stop());
    const nc = await connectNats("bench-events-relay", natsServer.url);
    cleanup.add("the NATS connection", () => nc.close());
    const scratch = await createScratchDatabase();
    cleanup.add("the scratch database", () => scratch.drop());
    const databaseUrl = scratch.url;
    const producerDb = createSqlDatabase(databaseUrl, { poolSize: config.BENCH_PRODUCER_CONNECTIONS });
    cleanup.add("the producers' pool", () => producerDb.close());
    await ensureStreams(await nc.jetstreamManager(), [context]);
    const relay = startOutboxRelay({
      db: scratch.db,
      nc,
      logger,
      batchSize: config.BENCH_RELAY_BATCH_SIZE,
      pollIntervalMs: config.BENCH_RELAY_POLL_MS,
    });
    cleanup.add("the outbox relay", () => relay.stop());
    const consumer = await ConsumerProcess.start(databaseUrl, natsServer.url, context);
    cleanup.add("the consumer process", () => consumer.stop());
    const [{ synchronous_commit: synchronousCommit }] = await scratch.db.query<{ synchronous_commit: string }>("SHOW synchronous_commit");
    console.log(
      `outbox -> relay -> JetStream ${streamName(context)} -> durable consumer ${readerOf(context)} (its own process) -> inbox + effect row; ` +
        `runtime code over the runtime's SqlDatabase, PostgreSQL synchronous_commit=${synchronousCommit}, private NATS ${natsServer.url}`,
    );
    console.log(
      `knobs: relay batchSize ${config.BENCH_RELAY_BATCH_SIZE}, relay pollIntervalMs ${config.BENCH_RELAY_POLL_MS} (each commit of events handed to it in memory), ` +
        `consumer batchSize ${config.BENCH_CONSUMER_BATCH_SIZE}, producer connections ${config.BENCH_PRODUCER_CONNECTIONS}, ` +
        `${config.BENCH_EVENTS_PER_TRANSACTION} events per batched transaction`,
    );
    console.log(
      `${config.BENCH_EVENT_RATE} events/s for ${config.BENCH_DURATION_MS} ms per mode (${selectedModes.join(", ")}), after a ${config.BENCH_WARMUP_MS} ms warm-up`,
    );
    const pipeline: Pipeline = {
      context,
      schema: benchEventSchema(context),
      producerDb,
      js: nc.jetstream(),
      consumer,
      enqueued: 0,
    };
    const postgres = new PostgresBackends("postgres (backends of the scratch database)", [databaseUrl]);
    const cpuMeasurement: CpuMeasurement = {
      postgres,
      groups: [
        { name: "producers + relay (this process)", pids: () => [process.pid] },
        { name: "consumer process", pids: () => [consumer.pid] },
        postgres,
        { name: "nats-server (private)", pids: () => [natsServer.pid!] },
      ],
    };
    if (config.BENCH_WARMUP_MS > 0) await runMode(pipeline, selectedModes[0]!, config.BENCH_WARMUP_MS, cpuMeasurement);
    const runs: ModeRun[] = [];
    for (const mode of selectedModes) {
      process.stderr.write(`${mode} ...\n`);
      runs.push(await runMode(pipeline, mode, config.BENCH_DURATION_MS, cpuMeasurement));
    }
    const lost = report(runs);
    if (config.BENCH_PROBE_MS > 0) {
      process.stderr.write("apply ceiling probe ...\n");
      await reportApplyCeiling(pipeline.producerDb, config.BENCH_PRODUCER_CONNECTIONS);
    }
    console.log();
    console.log(`${await describeMachine()} (after)`);
    if (lost > 0) console.error(`${lost} events committed but never applied: the run is void`);
    return lost > 0 ? 1 : 0;
  } finally {
    await cleanup.run();
  }
}

if (process.argv[2] === "consume") {
  const [databaseUrl, natsUrl, context, batchSize] = process.argv.slice(3);
  await runConsumer(databaseUrl!, natsUrl!, context!, Number(batchSize));
} else {
  process.exitCode = await main();
}
