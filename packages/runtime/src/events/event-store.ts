import { isDeepStrictEqual } from "node:util";
import { createRegistry, type DescMessage, fromBinary, type JsonValue, type Message, type Registry } from "@bufbuild/protobuf";
import { isUniqueViolation, type Sql, type SqlDatabase } from "../sql.js";
import { type OutboxEntry, outboxTable, publishAfterCommit, startOutboxWrite } from "./outbox.js";

/**
 * Event streams on a service's own PostgreSQL. A stream's events are rows of the service's
 * outbox table, so appending to a stream is the outbox insert and the relay publishes them as
 * it publishes any row (the event id is the JetStream message id): there is no second copy.
 * The service adds these columns and the snapshot table to its schema.prisma:
 *
 *   model OutboxEvent {
 *     ...the outbox columns (outbox.ts)...
 *     streamId      String?                  @map("stream_id")
 *     streamVersion Int?                     @map("stream_version")
 *     position      BigInt                   @default(autoincrement())
 *     transactionId Unsupported("xid8")      @default(dbgenerated("pg_current_xact_id()")) @map("transaction_id")
 *     @@unique([streamId, streamVersion])
 *     @@index([transactionId, position])
 *   }
 *
 *   model StreamSnapshot {
 *     streamId      String   @map("stream_id")
 *     schemaVersion Int      @map("schema_version")
 *     version       Int
 *     state         Json
 *     takenAt       DateTime @default(now()) @map("taken_at") @db.Timestamptz(3)
 *     @@id([streamId, schemaVersion])
 *     @@map("stream_snapshots")
 *   }
 *
 * - Optimistic concurrency: a command reads the stream at some version and appends its events
 *   at the versions after it; the unique (stream_id, stream_version) constraint refuses the
 *   append if another command got there first (`StreamVersionConflict`), and the command runs
 *   again on what it reads then.
 * - Global order: `position` comes from a sequence, so a transaction that took its positions
 *   earlier may commit later. Reading every stream in (transaction_id, position) order, only
 *   up to the oldest transaction still in flight (`pg_snapshot_xmin`), never skips a row that
 *   commits after a reader went past it.
 * - Snapshots: every `every` events an append also stores the state folded so far, in the same
 *   statement; loading reads the snapshot and the events after it. A snapshot records the
 *   version of the fold that made it, and a fold of another version ignores it.
 */
export const streamSnapshotsTable = "stream_snapshots";

/** The unique index on (stream_id, stream_version) of the outbox, Prisma's name for it. */
const streamVersionConstraint = `${outboxTable}_stream_id_stream_version_key`;

/** Another command appended to the stream after this one read it: read again and decide again. */
export class StreamVersionConflict extends Error {
  override name = "StreamVersionConflict";

  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`stream ${streamId} is past version ${expectedVersion}: another command appended to it first`);
  }
}

/** Where an event stands among the events of every stream. */
export interface GlobalPosition {
  transactionId: bigint;
  position: bigint;
}

/** Before the first event of any stream. */
export const startOfAllStreams: GlobalPosition = { transactionId: 0n, position: 0n };

/** An event read back from its stream. */
export interface RecordedEvent<E> {
  eventId: string;
  streamId: string;
  /** 1 for a stream's first event, then one more for each. */
  version: number;
  globalPosition: GlobalPosition;
  /** Protobuf type name of the stored message. */
  type: string;
  recordedAt: Date;
  event: E;
}

export interface SnapshotPolicy<S> {
  /** An append that reaches a multiple of `every` events stores a snapshot. */
  every: number;
  /** The version of the fold; snapshots of other versions are ignored. Change it with the fold. */
  schemaVersion: number;
  encode(state: S): JsonValue;
  decode(json: JsonValue): S;
}

/** What a kind of stream holds and how its events fold into its state. */
export interface StreamType<E, S> {
  /** The Protobuf messages of its events: a stored payload is decoded by the type name stored with it. */
  schemas: readonly DescMessage[];
  fromMessage(message: Message): E;
  toEntry(event: E): OutboxEntry;
  initial: S;
  evolve(state: S, event: E): S;
  snapshots?: SnapshotPolicy<S>;
}

/** A stream folded up to `version` (0: no events yet). */
export interface LoadedStream<S> {
  state: S;
  version: number;
}

export interface CommandOutcome<E, S> extends LoadedStream<S> {
  /** What the command appended; empty when it decided on nothing. */
  appended: E[];
}

/** A snapshot that disagrees with the fold of its stream. */
export interface SnapshotMismatch {
  streamId: string;
  version: number;
  /** The fold at the snapshot's version; undefined when the stream does not reach it. */
  folded: JsonValue | undefined;
  stored: JsonValue;
}

/** A stream whose events do not fold: the fold refused the event at `version`. */
export interface UnfoldableStream {
  streamId: string;
  version: number;
  error: string;
}

export interface RefoldReport {
  streams: number;
  events: number;
  snapshotsChecked: number;
  /** Snapshots of other fold versions, not compared. */
  snapshotsOfOtherVersions: number;
  mismatches: SnapshotMismatch[];
  unfoldable: UnfoldableStream[];
}

interface EventRow {
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  payload: Uint8Array;
  created_at: Date;
  transaction_id: string;
  position: string;
}

const eventColumnsOf = (table: string) =>
  `${table}.id::text AS event_id, ${table}.stream_id, ${table}.stream_version, ${table}.type, ${table}.payload, ${table}.created_at,
   ${table}.transaction_id::text AS transaction_id, ${table}.position::text AS position`;
const eventColumns = eventColumnsOf(outboxTable);

export class EventStore<E, S> {
  private readonly registry: Registry;

  constructor(readonly type: StreamType<E, S>) {
    const { snapshots } = type;
    if (snapshots && (!Number.isInteger(snapshots.every) || snapshots.every < 1))
      throw new RangeError(`snapshots.every must be a positive integer, got ${snapshots.every}`);
    this.registry = createRegistry(...type.schemas);
  }

  private recorded(row: EventRow): RecordedEvent<E> {
    const schema = this.registry.getMessage(row.type);
    if (!schema) throw new Error(`event ${row.event_id} of stream ${row.stream_id} has type ${row.type}, which this stream does not know`);
    return {
      eventId: row.event_id,
      streamId: row.stream_id,
      version: row.stream_version,
      globalPosition: { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) },
      type: row.type,
      recordedAt: row.created_at,
      event: this.type.fromMessage(fromBinary(schema, row.payload)),
    };
  }

  private fold(from: LoadedStream<S>, events: readonly E[]): LoadedStream<S> {
    return { state: events.reduce(this.type.evolve, from.state), version: from.version + events.length };
  }

  /** The events of a stream from `fromVersion` on, in order. */
  async readStream(sql: Sql, streamId: string, fromVersion = 1): Promise<RecordedEvent<E>[]> {
    const rows = await sql.query<EventRow>(
      `SELECT ${eventColumns} FROM ${outboxTable} WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version`,
      [streamId, fromVersion],
    );
    return rows.map((row) => this.recorded(row));
  }

  /**
   * Up to `limit` events of every stream after `after`, in global order, stopping before the
   * oldest transaction still in flight: pass the last one's `globalPosition` to read on. A
   * stream's events come in version order when each append is the first write of its
   * transaction, as `execute` makes them.
   */
  async readAll(sql: Sql, after: GlobalPosition = startOfAllStreams, limit = 1_000): Promise<RecordedEvent<E>[]> {
    const rows = await sql.query<EventRow>(
      `SELECT ${eventColumns} FROM ${outboxTable}
       WHERE stream_id IS NOT NULL
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         AND (transaction_id, position) > ($1::xid8, $2::bigint)
       ORDER BY transaction_id, position
       LIMIT $3`,
      [after.transactionId.toString(), after.position.toString(), limit],
    );
    return rows.map((row) => this.recorded(row));
  }

  /** The stream's state with one statement: its latest snapshot of this fold's version and the events after it. */
  async load(sql: Sql, streamId: string): Promise<LoadedStream<S>> {
    const { snapshots } = this.type;
    const rows = await sql.query<Partial<EventRow> & { snapshot_version: number | null; snapshot_state: JsonValue | null }>(
      `SELECT s.version AS snapshot_version, s.state AS snapshot_state, ${eventColumnsOf("e")}
       FROM (SELECT 1) AS one
       LEFT JOIN ${streamSnapshotsTable} s ON s.stream_id = $1 AND s.schema_version = $2
       LEFT JOIN ${outboxTable} e ON e.stream_id = $1 AND e.stream_version > coalesce(s.version, 0)
       ORDER BY e.stream_version`,
      [streamId, snapshots?.schemaVersion ?? null],
    );
    const first = rows[0]!;
    const start: LoadedStream<S> =
      first.snapshot_version !== null && snapshots
        ? { state: snapshots.decode(first.snapshot_state!), version: first.snapshot_version }
        : { state: this.type.initial, version: 0 };
    const events = rows.filter((row) => row.event_id !== null).map((row) => this.recorded(row as EventRow).event);
    return this.fold(start, events);
  }

  /**
   * Appends `events` to a stream read at `current`, with one statement (and the snapshot, when
   * one is due). Throws `StreamVersionConflict` when the stream is past `current.version`;
   * inside a transaction, that leaves the transaction to roll back.
   */
  async append(sql: Sql, streamId: string, current: LoadedStream<S>, events: readonly E[]): Promise<LoadedStream<S>> {
    const after = this.fold(current, events);
    if (events.length === 0) return after;
    const { snapshots } = this.type;
    const snapshotDue =
      snapshots !== undefined && Math.floor(after.version / snapshots.every) > Math.floor(current.version / snapshots.every);
    const entries = events.map((event) => this.type.toEntry(event));
    const write = startOutboxWrite(entries);
    const { headers } = write;
    let written: { created_at: Date } | undefined;
    try {
      [written] = await sql.query<{ created_at: Date }>(
        `WITH appended AS (
           INSERT INTO ${outboxTable} (id, subject, type, payload, headers, stream_id, stream_version)
           SELECT event.id, event.subject, event.type, event.payload, $5::jsonb, $6, $7::int + event.n::int
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[]) WITH ORDINALITY AS event(id, subject, type, payload, n)
           RETURNING created_at),
         snapshot AS (
           INSERT INTO ${streamSnapshotsTable} (stream_id, schema_version, version, state)
           SELECT $6, $8::int, $9::int, $10::jsonb WHERE $10::jsonb IS NOT NULL
           ON CONFLICT (stream_id, schema_version) DO UPDATE SET version = excluded.version, state = excluded.state, taken_at = now())
         SELECT max(created_at) AS created_at FROM appended`,
        [
          entries.map((e) => e.id),
          entries.map((e) => e.subject),
          entries.map((e) => e.type),
          entries.map((e) => e.payload),
          JSON.stringify(headers),
          streamId,
          current.version,
          snapshots?.schemaVersion ?? null,
          after.version,
          snapshotDue ? JSON.stringify(snapshots.encode(after.state)) : null,
        ],
      );
    } catch (err) {
      if (isUniqueViolation(err) && (err as { constraint?: string }).constraint === streamVersionConstraint)
        throw new StreamVersionConflict(streamId, current.version);
      throw err;
    }
    write.written(entries.length);
    publishAfterCommit(sql, entries, headers, written!.created_at);
    return after;
  }

  /**
   * Runs a command on a stream: loads it, lets `decide` choose the events to append from its
   * state (none to change nothing; throw to refuse), and appends them at the version it read,
   * each attempt a read and an append statement. On a conflict it starts again from a fresh
   * read, up to `maxAttempts` times.
   */
  async execute(
    db: SqlDatabase,
    streamId: string,
    decide: (current: LoadedStream<S>) => Promise<readonly E[]> | readonly E[],
    { maxAttempts = 5 }: { maxAttempts?: number } = {},
  ): Promise<CommandOutcome<E, S>> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.load(db, streamId);
      const events = await decide(current);
      try {
        return { ...(await this.append(db, streamId, current, events)), appended: [...events] };
      } catch (err) {
        if (!(err instanceof StreamVersionConflict) || attempt >= maxAttempts) throw err;
      }
    }
  }

  /**
   * Folds every stream again from its events, stream by stream, and compares the fold with each
   * snapshot of this fold's version at the snapshot's version.
   */
  async refold(sql: Sql, { pageSize = 1_000 }: { pageSize?: number } = {}): Promise<RefoldReport> {
    const { snapshots } = this.type;
    const stored = await sql.query<{ stream_id: string; schema_version: number; version: number; state: JsonValue }>(
      `SELECT stream_id, schema_version, version, state FROM ${streamSnapshotsTable}`,
    );
    const current = stored.filter((row) => row.schema_version === snapshots?.schemaVersion);
    const unchecked = new Map(current.map((row) => [row.stream_id, row]));
    const mismatches: SnapshotMismatch[] = [];
    const unfoldable: UnfoldableStream[] = [];
    let streams = 0;
    let events = 0;
    let fold: LoadedStream<S> = { state: this.type.initial, version: 0 };
    let streamId: string | undefined;
    let failed = false;
    const apply = (recorded: RecordedEvent<E>) => {
      events += 1;
      if (recorded.streamId !== streamId) {
        streamId = recorded.streamId;
        streams += 1;
        fold = { state: this.type.initial, version: 0 };
        failed = false;
      }
      if (failed) return;
      try {
        if (recorded.version !== fold.version + 1) throw new Error(`version ${recorded.version} follows version ${fold.version}`);
        fold = this.fold(fold, [recorded.event]);
      } catch (err) {
        failed = true;
        unfoldable.push({
          streamId: recorded.streamId,
          version: recorded.version,
          error: err instanceof Error ? err.message : String(err),
        });
        return;
      }
      const snapshot = unchecked.get(recorded.streamId);
      if (snapshot?.version !== fold.version || !snapshots) return;
      unchecked.delete(recorded.streamId);
      const folded = snapshots.encode(fold.state);
      if (!isDeepStrictEqual(folded, snapshot.state))
        mismatches.push({ streamId: snapshot.stream_id, version: fold.version, folded, stored: snapshot.state });
    };
    for (let after: [string, number] = ["", 0]; ; ) {
      const rows = await sql.query<EventRow>(
        `SELECT ${eventColumns} FROM ${outboxTable}
         WHERE stream_id IS NOT NULL AND (stream_id, stream_version) > ($1, $2)
         ORDER BY stream_id, stream_version
         LIMIT $3`,
        [...after, pageSize],
      );
      for (const row of rows) apply(this.recorded(row));
      if (rows.length < pageSize) break;
      after = [rows[rows.length - 1]!.stream_id, rows[rows.length - 1]!.stream_version];
    }
    const unfoldableStreams = new Set(unfoldable.map((stream) => stream.streamId));
    for (const snapshot of unchecked.values()) {
      if (!unfoldableStreams.has(snapshot.stream_id))
        mismatches.push({ streamId: snapshot.stream_id, version: snapshot.version, folded: undefined, stored: snapshot.state });
    }
    return {
      streams,
      events,
      snapshotsChecked: current.length,
      snapshotsOfOtherVersions: stored.length - current.length,
      mismatches,
      unfoldable,
    };
  }
}
