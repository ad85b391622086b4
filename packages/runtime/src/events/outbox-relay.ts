import { headers as natsHeaders, type JetStreamClient, type MsgHdrs, type NatsConnection } from "nats";
import type { Logger } from "../logger.js";
import type { Sql, SqlDatabase } from "../sql.js";
import { eventMetrics } from "./metrics.js";
import { onEventsCommitted, outboxTable } from "./outbox.js";
import { eventContentType, eventHeaders } from "./subjects.js";

export interface OutboxRelayOptions {
  db: SqlDatabase;
  nc: NatsConnection;
  logger: Logger;
  /** Rows claimed and published per transaction. */
  batchSize?: number;
  /** Longest wait between two looks at the table when no commit of events wakes the relay. */
  pollIntervalMs?: number;
  /** How long to wait for JetStream to acknowledge one publish. */
  publishTimeoutMs?: number;
}

export interface OutboxRelay {
  /** Looks at the table now. Commits of `enqueueEvents` in this process do it themselves. */
  notify(): void;
  /** Stops the loop, then publishes whatever is still unsent (graceful shutdown). */
  stop(): Promise<void>;
}

interface OutboxRow {
  id: string;
  subject: string;
  type: string;
  payload: Uint8Array;
  /** The jsonb column, parsed by the driver. */
  headers: Record<string, unknown>;
  created_at: Date;
}

interface BatchOutcome {
  claimed: number;
  failed: number;
}

const maxPollIntervalMs = 60_000;

/** Lets a waiting loop be woken early; a wake-up that comes while it is busy is kept. */
class Wakeup {
  private pending = false;
  private wake?: () => void;

  fire(): void {
    this.pending = true;
    this.wake?.();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.pending = false;
        resolve();
      };
    });
  }
}

function positiveInt(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer in [1, ${max}], got ${value}`);
  return value;
}

function headersOf(row: OutboxRow): MsgHdrs {
  const out = natsHeaders();
  for (const [key, value] of Object.entries(row.headers)) {
    if (typeof value === "string") out.set(key, value);
  }
  out.set(eventHeaders.type, row.type);
  out.set(eventHeaders.contentType, eventContentType);
  out.set(eventHeaders.occurredAt, new Date(row.created_at).toISOString());
  return out;
}

/**
 * Claims up to `batchSize` unsent rows in creation order (skipping rows another replica holds),
 * publishes them concurrently with the row id as message id, and marks the acknowledged ones
 * sent in the same transaction. A crash between publish and commit republishes the rows
 * later; JetStream drops those duplicates within its window.
 */
async function relayBatch(tx: Sql, js: JetStreamClient, batchSize: number, publishTimeoutMs: number, logger: Logger): Promise<BatchOutcome> {
  const rows = await tx.query<OutboxRow>(
    `SELECT id, subject, type, payload, headers, created_at FROM ${outboxTable}
     WHERE sent_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [batchSize],
  );
  eventMetrics.outboxLag.set(rows.length ? Math.max(0, Date.now() - new Date(rows[0]!.created_at).getTime()) / 1000 : 0);
  if (rows.length === 0) return { claimed: 0, failed: 0 };

  const results = await Promise.allSettled(
    rows.map((row) => js.publish(row.subject, row.payload, { msgID: row.id, headers: headersOf(row), timeout: publishTimeoutMs })),
  );
  const sent: OutboxRow[] = [];
  results.forEach((result, index) => {
    const row = rows[index]!;
    if (result.status === "fulfilled") {
      sent.push(row);
      eventMetrics.outboxPublished.inc({ type: row.type });
    } else {
      eventMetrics.outboxPublishErrors.inc();
      logger.warn({ err: result.reason, eventId: row.id, subject: row.subject }, "outbox publish failed; will retry");
    }
  });
  if (sent.length > 0) {
    await tx.execute(`UPDATE ${outboxTable} SET sent_at = now() WHERE id = ANY($1::uuid[])`, [sent.map((row) => row.id)]);
  }
  return { claimed: rows.length, failed: rows.length - sent.length };
}

/**
 * Publishes the service's outbox to JetStream until stopped. Several replicas can run it on
 * the same table: each claims different rows. It looks at the table at once when a transaction
 * of this process that enqueued events commits, and every `pollIntervalMs` (rows committed by
 * other replicas, retries after errors).
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, nc, logger } = options;
  const batchSize = positiveInt("batchSize", options.batchSize ?? 500, 10_000);
  const pollIntervalMs = positiveInt("pollIntervalMs", options.pollIntervalMs ?? 1_000, maxPollIntervalMs);
  const publishTimeoutMs = positiveInt("publishTimeoutMs", options.publishTimeoutMs ?? 5_000);
  const js = nc.jetstream();
  const wakeup = new Wakeup();
  const stopWaking = onEventsCommitted(() => wakeup.fire());
  let stopping = false;

  const runBatch = async (): Promise<BatchOutcome> => {
    try {
      return await db.transaction((tx) => relayBatch(tx, js, batchSize, publishTimeoutMs, logger));
    } catch (err) {
      logger.error({ err }, "outbox relay batch failed; will retry");
      return { claimed: 0, failed: 1 };
    }
  };

  const loop = (async () => {
    while (!stopping) {
      const outcome = await runBatch();
      // A full, clean batch means more rows are probably waiting: go on without sleeping.
      if (outcome.failed === 0 && outcome.claimed === batchSize) continue;
      await wakeup.wait(pollIntervalMs);
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    notify: () => wakeup.fire(),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        stopWaking();
        wakeup.fire();
        await loop;
        for (;;) {
          const outcome = await runBatch();
          if (outcome.failed > 0 || outcome.claimed < batchSize) break;
        }
        logger.debug("outbox relay stopped");
      })();
      return stopped;
    },
  };
}

/** Housekeeping: deletes rows published before `olderThan`; returns how many. */
export async function deleteSentOutboxRows(db: Sql, olderThan: Date): Promise<number> {
  return db.execute(`DELETE FROM ${outboxTable} WHERE sent_at < $1::timestamptz`, [olderThan]);
}
