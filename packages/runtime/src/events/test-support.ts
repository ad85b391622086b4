import { randomBytes } from "node:crypto";
import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { connect, type JetStreamManager, type NatsConnection } from "nats";
import pg from "pg";
import { dropDatabase, ensureDatabase } from "../db.js";
import { createLogger } from "../logger.js";
import { createSqlDatabase, type Sql, type SqlDatabase } from "../sql.js";
import { testNatsUrl } from "../testing/nats.js";
import { defaultPostgresUrl } from "../topology.js";
import { type EnqueuedEvent, enqueueEvents, outboxEntry } from "./outbox.js";
import { deadLetterStream, deadLetterSubject, streamName } from "./subjects.js";

/** The tables of the OutboxEvent and InboxEvent models as `prisma migrate diff` writes them. */
const eventTablesDdl = `
CREATE TABLE "outbox_events" (
    "id" UUID NOT NULL,
    "subject" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" BYTEA NOT NULL,
    "headers" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),

    CONSTRAINT "outbox_events_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "inbox_events" (
    "consumer" TEXT NOT NULL,
    "event_id" UUID NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbox_events_pkey" PRIMARY KEY ("consumer","event_id")
);

CREATE INDEX "outbox_events_sent_at_created_at_idx" ON "outbox_events"("sent_at", "created_at");
`;

/** The event store's columns and snapshot table (`event-store.ts`), as `prisma migrate diff` writes them. */
const streamTablesDdl = `
ALTER TABLE "outbox_events" ADD COLUMN     "position" BIGSERIAL NOT NULL,
ADD COLUMN     "stream_id" TEXT,
ADD COLUMN     "stream_version" INTEGER,
ADD COLUMN     "transaction_id" xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE TABLE "stream_snapshots" (
    "stream_id" TEXT NOT NULL,
    "schema_version" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "state" JSONB NOT NULL,
    "taken_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stream_snapshots_pkey" PRIMARY KEY ("stream_id","schema_version")
);

CREATE INDEX "outbox_events_transaction_id_position_idx" ON "outbox_events"("transaction_id", "position");

CREATE UNIQUE INDEX "outbox_events_stream_id_stream_version_key" ON "outbox_events"("stream_id", "stream_version");
`;

/** What the consumer tests' handlers write: one row per applied event. */
const effectsDdl = `CREATE TABLE "effects" ("event_id" UUID NOT NULL, "note" TEXT NOT NULL)`;

export const silentLogger = createLogger("events-test", "silent");

export interface ScratchDatabase {
  url: string;
  db: SqlDatabase;
  drop(): Promise<void>;
}

/**
 * A database of its own for one test file, holding the outbox, inbox and effects tables, and
 * with `streams` the event store's columns and snapshots.
 */
export async function createScratchDatabase({ streams = false } = {}): Promise<ScratchDatabase> {
  const url = new URL(process.env.POSTGRES_URL ?? defaultPostgresUrl);
  url.pathname = `/shop_test_events_${randomBytes(6).toString("hex")}`;
  await ensureDatabase(url.toString());
  const setup = new pg.Client({ connectionString: url.toString() });
  await setup.connect();
  try {
    await setup.query(`${eventTablesDdl};${effectsDdl};${streams ? streamTablesDdl : ""}`);
  } finally {
    await setup.end();
  }
  const db = createSqlDatabase(url.toString(), { poolSize: 10 });
  return {
    url: url.toString(),
    db,
    async drop() {
      await db.close();
      await dropDatabase(url.toString());
    },
  };
}

/** A context name no other test run uses, so its stream and subjects are private to the caller. */
export function uniqueContext(): string {
  return `evt_${randomBytes(5).toString("hex")}`;
}

/** The durable consumer a test runs on its context; its dead letters are purged by `TestNats.close`. */
export function readerOf(context: string): string {
  return `${context}_reader`;
}

export interface TestNats {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Deletes the streams of these contexts and their readers' dead letters, then closes. */
  close(contexts: readonly string[]): Promise<void>;
}

export async function connectTestNats(): Promise<TestNats> {
  const nc = await connect({ servers: testNatsUrl() });
  const jsm = await nc.jetstreamManager();
  return {
    nc,
    jsm,
    async close(contexts) {
      for (const context of contexts) {
        await jsm.streams.delete(streamName(context)).catch(() => false);
        await jsm.streams.purge(deadLetterStream, { filter: deadLetterSubject(readerOf(context)) }).catch(() => undefined);
      }
      await nc.close();
    },
  };
}

/** Number of messages a stream holds. */
export async function streamMessageCount(jsm: JetStreamManager, context: string): Promise<number> {
  return (await jsm.streams.info(streamName(context))).state.messages;
}

/**
 * Enqueues an event with the real `enqueueEvents`, on the test's private context's subject
 * (`shop.<context>.order_placed` instead of `shop.orders.order_placed`),
 * so parallel test files and running services never see each other's events.
 */
export async function enqueueTestEvent<S extends DescMessage>(
  tx: Sql,
  context: string,
  schema: S,
  message: MessageInitShape<S>,
): Promise<EnqueuedEvent> {
  const entry = outboxEntry(schema, message);
  const [event] = await enqueueEvents(tx, [{ ...entry, subject: entry.subject.replace(/^shop\.[^.]+\./, `shop.${context}.`) }]);
  return event!;
}

export { waitFor } from "../testing/wait.js";
