import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { currentContext, metadataKeys, propagationHeaders } from "../request-context.js";
import { databaseUrlOf, type Sql, type SqlDatabase } from "../sql.js";
import { SpanKind, startSpan } from "../tracing.js";
import { newEventId } from "./event-id.js";
import { commonSubject, messagingSpans } from "./spans.js";
import { contextOfSubject, eventSubject, streamName } from "./subjects.js";

/**
 * The table every event-publishing service has in its own database (copy this model into
 * its schema.prisma):
 *
 *   model OutboxEvent {
 *     id        String    @id @db.Uuid
 *     subject   String
 *     type      String
 *     payload   Bytes
 *     headers   Json      @default("{}")
 *     createdAt DateTime  @default(now()) @map("created_at") @db.Timestamptz(3)
 *     sentAt    DateTime? @map("sent_at") @db.Timestamptz(3)
 *     @@index([sentAt, createdAt])
 *     @@map("outbox_events")
 *   }
 *
 * A service that keeps event streams (`event-store.ts`) adds their columns to it: its stream
 * events are these rows. Rows that belong to a stream are the record itself, so a job pruning
 * published rows must keep every row whose `stream_id` is set.
 */
export const outboxTable = "outbox_events";

/** An outbox row, as the relay publishes it. */
export interface OutboxRecord {
  id: string;
  subject: string;
  type: string;
  payload: Uint8Array;
  /** Propagation headers of the work that wrote it (correlation id, trace context, idempotency key). */
  headers: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Takes the records of a commit for publishing; returns false to leave them to the table's
 * poll (its queue is full, say).
 */
export type CommittedEventsTaker = (records: readonly OutboxRecord[]) => boolean;

/** The outbox relays running in this process, by the URL of the database whose outbox they publish. */
const takersByDatabase = new Map<string, Set<CommittedEventsTaker>>();

/**
 * Hands the records of every commit of enqueued events on `db`'s database in this process (on
 * any pool of that URL) to `take`, one relay taking each commit, until the returned function is
 * called.
 */
export function onEventsCommitted(db: SqlDatabase, take: CommittedEventsTaker): () => void {
  const url = databaseUrlOf(db);
  if (url === undefined) return () => {};
  let takers = takersByDatabase.get(url);
  if (!takers) takersByDatabase.set(url, (takers = new Set()));
  takers.add(take);
  return () => {
    takers.delete(take);
    if (takers.size === 0 && takersByDatabase.get(url) === takers) takersByDatabase.delete(url);
  };
}

function handOver(url: string, records: readonly OutboxRecord[]): void {
  for (const take of takersByDatabase.get(url) ?? []) {
    if (take(records)) return;
  }
}

export interface EnqueuedEvent {
  id: string;
  subject: string;
}

/** An event encoded for the outbox, not yet written. */
export interface OutboxEntry {
  id: string;
  subject: string;
  type: string;
  payload: Buffer;
}

/** Encodes an event of `schema` for `enqueueEvents`. A given `id` must be a UUID; generated ids keep creation order. */
export function outboxEntry<S extends DescMessage>(schema: S, message: MessageInitShape<S>, options: { id?: string } = {}): OutboxEntry {
  return {
    id: options.id ?? newEventId(),
    subject: eventSubject(schema),
    type: schema.typeName,
    payload: Buffer.from(toBinary(schema, create(schema, message))),
  };
}

/** One statement writing events to the outbox, as traced: the headers its rows carry, and the end of its span. */
export interface OutboxWrite {
  /** The current work's propagation headers and idempotency key, with the write's span as the events' trace parent. */
  readonly headers: Record<string, string>;
  /** Ends the write's span once the statement has run, with the number of rows it wrote. */
  written(rows: number): void;
}

const subjectOfEntry = (entry: OutboxEntry) => entry.subject;

const createSpan = messagingSpans("create", {
  "db.system.name": "postgresql",
  "db.collection.name": outboxTable,
  "db.operation.name": "INSERT",
});

/**
 * Starts the span of an outbox write (the events' creation context: what the relay's publish and
 * every consumer's processing descend from) and the headers its rows carry. A statement that
 * fails leaves its span unended, so unexported: the caller's own span carries the error.
 */
export function startOutboxWrite(entries: readonly OutboxEntry[]): OutboxWrite {
  const context = currentContext();
  const headers = propagationHeaders(context);
  if (context?.idempotencyKey) headers[metadataKeys.idempotencyKey] = context.idempotencyKey;
  const [first] = entries;
  if (!first) return { headers, written: () => {} };
  // Events of one statement belong to one context: a mix of subjects is named by their stream.
  const shape = createSpan(commonSubject(entries, subjectOfEntry) ?? streamName(contextOfSubject(first.subject)));
  const span = startSpan(shape.name, SpanKind.PRODUCER, context ?? {}, shape.attributes);
  if (span.recording) {
    if (entries.length === 1) span.span.setAttribute("messaging.message.id", first.id);
    else span.span.setAttribute("messaging.batch.message_count", entries.length);
  }
  if (span.carrier.traceparent) headers[metadataKeys.traceparent] = span.carrier.traceparent;
  return {
    headers,
    written(rows) {
      if (span.recording) span.span.setAttribute("db.response.returned_rows", rows);
      span.end();
    },
  };
}

/**
 * Hands outbox rows just written through `sql` to a relay of this process once they are
 * committed, for any statement that writes them (`enqueueEvents`, a change's own statement, a
 * stream append).
 */
export function publishAfterCommit(sql: Sql, entries: readonly OutboxEntry[], headers: Record<string, string>, createdAt: Date): void {
  const url = databaseUrlOf(sql);
  if (url === undefined) return;
  const records = entries.map((entry): OutboxRecord => ({ ...entry, headers, createdAt }));
  sql.afterCommit(() => handOver(url, records));
}

/**
 * Events written by a statement of the caller's, in the same statement as the change they
 * announce: one round trip to the database and atomic without a transaction. Put `cte` in the
 * statement's WITH list and `writtenAt` in its select list, pass `values` after the
 * statement's own parameters, then call `written` with the result's `outbox_written_at`.
 */
export interface EventsInStatement {
  /** `outbox_written AS (INSERT ...)`, writing the events only when `guard` holds. */
  readonly cte: string;
  readonly values: readonly unknown[];
  /** Hands the written events to this process's relay once they are committed. */
  written(sql: Sql, writtenAt: Date | null | undefined): void;
}

/** The select-list item giving when the events of `EventsInStatement.cte` were written (null if they were not). */
export const outboxWrittenAt = `(SELECT max(created_at) FROM outbox_written) AS outbox_written_at`;

/**
 * `entries` to be written by a statement whose parameters before them number
 * `firstParameter - 1`; `guard` is a SQL condition on the statement's other CTEs
 * (`EXISTS (SELECT 1 FROM changed)`), so that events are written only with their change.
 */
export function eventsInStatement(entries: readonly OutboxEntry[], firstParameter: number, guard = "true"): EventsInStatement {
  const write = startOutboxWrite(entries);
  const { headers } = write;
  const p = (offset: number) => `$${firstParameter + offset}`;
  return {
    cte: `outbox_written AS (
       INSERT INTO ${outboxTable} (id, subject, type, payload, headers)
       SELECT event.id, event.subject, event.type, event.payload, ${p(4)}::jsonb
       FROM unnest(${p(0)}::uuid[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::bytea[]) AS event(id, subject, type, payload)
       WHERE ${guard}
       RETURNING created_at)`,
    values: [
      entries.map((e) => e.id),
      entries.map((e) => e.subject),
      entries.map((e) => e.type),
      entries.map((e) => e.payload),
      JSON.stringify(headers),
    ],
    written(sql, writtenAt) {
      write.written(writtenAt ? entries.length : 0);
      if (writtenAt && entries.length > 0) publishAfterCommit(sql, entries, headers, writtenAt);
    },
  };
}

/**
 * Writes domain events to the outbox inside `tx`, in one statement. They are published in
 * order, with each event id as JetStream message id; the correlation id and trace context of
 * the current work travel with them as headers. `tx` is the transaction of the state change,
 * so the events commit or roll back with it. Once it commits, a relay of this process on the
 * same database publishes them at once from memory; any the process did not publish (it
 * stopped, NATS failed) are found in the table by a relay's poll. A change that is one
 * statement writes its events in that statement instead (`eventsInStatement`).
 */
export async function enqueueEvents(tx: Sql, entries: readonly OutboxEntry[]): Promise<EnqueuedEvent[]> {
  if (entries.length === 0) return [];
  const events = eventsInStatement(entries, 1);
  const [row] = await tx.query<{ outbox_written_at: Date }>(`WITH ${events.cte} SELECT ${outboxWrittenAt}`, events.values);
  events.written(tx, row?.outbox_written_at);
  return entries.map(({ id, subject }) => ({ id, subject }));
}

/** `enqueueEvents` for one event of `schema`. */
export async function enqueueEvent<S extends DescMessage>(
  tx: Sql,
  schema: S,
  message: MessageInitShape<S>,
  options: { id?: string } = {},
): Promise<EnqueuedEvent> {
  const [enqueued] = await enqueueEvents(tx, [outboxEntry(schema, message, options)]);
  return enqueued!;
}
