import { Counter, Gauge } from "prom-client";
import type { Logger } from "../logger.js";
import { metricsRegistry } from "../metrics.js";
import type { SqlDatabase } from "../sql.js";
import { inboxTable } from "./event-consumer.js";
import { outboxTable } from "./outbox.js";

const hour = 3_600_000;

/**
 * How long event bookkeeping is kept. Sent outbox rows serve nothing once JetStream has the
 * event (its duplicate window is minutes), so a day is plenty to look into a problem; rows of
 * event streams (a ledger's events) are the service's data and never pruned. Inbox rows must
 * outlive the stream they deduplicate: a redelivery or a consumer reset within the stream's
 * max age must still find them.
 */
export interface EventRetention {
  outboxMs: number;
  inboxMs: number;
  /** How often the job runs; it deletes in batches, so each statement holds few locks. */
  intervalMs: number;
  batchSize?: number;
}

export const defaultEventRetention = { outboxMs: 24 * hour, intervalMs: hour };

const pruneMetrics = {
  pruned: new Counter({
    name: "event_rows_pruned_total",
    help: "Sent outbox rows and old inbox rows deleted by the retention job, by table.",
    labelNames: ["table"] as const,
    registers: [metricsRegistry],
  }),
  lastSuccess: new Gauge({
    name: "event_retention_last_success_timestamp_seconds",
    help: "When the retention job last finished without an error (Unix time).",
    registers: [metricsRegistry],
  }),
};

interface PrunedTable {
  table: string;
  statement: string;
  retentionMs: number;
}

/** The bookkeeping tables this database has, and how each is pruned (rows older than $1, at most $2 at a time). */
async function prunedTables(db: SqlDatabase, retention: EventRetention): Promise<PrunedTable[]> {
  const columns = await db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = ANY($1::text[])`,
    [[outboxTable, inboxTable]],
  );
  const has = (table: string, column?: string) => columns.some((c) => c.table_name === table && (!column || c.column_name === column));
  const tables: PrunedTable[] = [];
  if (has(outboxTable)) {
    const notStreams = has(outboxTable, "stream_id") ? "AND stream_id IS NULL" : "";
    tables.push({
      table: outboxTable,
      retentionMs: retention.outboxMs,
      statement: `DELETE FROM ${outboxTable} WHERE id IN (
         SELECT id FROM ${outboxTable} WHERE sent_at < now() - make_interval(secs => $1 / 1000.0) ${notStreams}
         LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    });
  }
  if (has(inboxTable)) {
    tables.push({
      table: inboxTable,
      retentionMs: retention.inboxMs,
      statement: `DELETE FROM ${inboxTable} WHERE (consumer, event_id) IN (
         SELECT consumer, event_id FROM ${inboxTable} WHERE processed_at < now() - make_interval(secs => $1 / 1000.0)
         LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    });
  }
  return tables;
}

/** Deletes what the retention allows from each table, batch by batch; answers rows deleted per table. */
export async function pruneEventRows(db: SqlDatabase, retention: EventRetention): Promise<Record<string, number>> {
  const batchSize = retention.batchSize ?? 5_000;
  const deleted: Record<string, number> = {};
  for (const { table, statement, retentionMs } of await prunedTables(db, retention)) {
    deleted[table] = 0;
    for (;;) {
      const rows = await db.execute(statement, [retentionMs, batchSize]);
      deleted[table] += rows;
      pruneMetrics.pruned.inc({ table }, rows);
      if (rows < batchSize) break;
    }
  }
  pruneMetrics.lastSuccess.setToCurrentTime();
  return deleted;
}

export interface RetentionJob {
  stop(): Promise<void>;
}

/** Runs `pruneEventRows` every `intervalMs` (the first time soon after start); every replica may run it. */
export function startEventRetention(db: SqlDatabase, retention: EventRetention, logger: Logger): RetentionJob {
  let running: Promise<void> | undefined;
  const run = () => {
    running ??= pruneEventRows(db, retention)
      .then(
        (deleted) => {
          if (Object.values(deleted).some((n) => n > 0)) logger.info({ deleted }, "event bookkeeping pruned");
        },
        (err: unknown) => logger.warn({ err }, "pruning event bookkeeping failed; the next run tries again"),
      )
      .finally(() => {
        running = undefined;
      });
  };
  const first = setTimeout(run, Math.min(retention.intervalMs, 60_000));
  const timer = setInterval(run, retention.intervalMs);
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}
