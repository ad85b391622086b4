import { type JetStreamClient, type MsgHdrs, type NatsConnection, headers as natsHeaders } from "nats";
import type { Logger } from "../logger.js";
import { metadataKeys } from "../request-context.js";
import type { Sql, SqlDatabase } from "../sql.js";
import { SpanKind, startSpan, type TraceCarrier } from "../tracing.js";
import { eventMetrics } from "./metrics.js";
import { type OutboxRecord, onEventsCommitted, outboxTable } from "./outbox.js";
import { messagingSpans } from "./spans.js";
import { eventContentType, eventHeaders } from "./subjects.js";

export interface OutboxRelayOptions {
  db: SqlDatabase;
  nc: NatsConnection;
  logger: Logger;
  /** Events published per statement that marks them sent, and rows claimed per poll. */
  batchSize?: number;
  /** How often the table is searched for unsent rows this process did not publish on commit. */
  pollIntervalMs?: number;
  /** How long to wait for JetStream to acknowledge one publish. */
  publishTimeoutMs?: number;
  /**
   * How long events published from memory may wait to be marked sent, so that the marks of
   * several commits go in one statement; a crash in between republishes them (one message each
   * in the stream all the same).
   */
  markDelayMs?: number;
}

export interface OutboxRelay {
  /** Looks at the table now, instead of at the next poll. */
  notify(): void;
  /** Stops the loop, then publishes whatever is still unsent (graceful shutdown). */
  stop(): Promise<void>;
}

interface BatchOutcome {
  claimed: number;
  failed: number;
  /** Ids of the rows published. */
  sent: readonly string[];
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

/** The message's headers: the row's, with the publish span as the trace parent of whoever consumes it. */
function headersOf(record: OutboxRecord, trace: TraceCarrier): MsgHdrs {
  const out = natsHeaders();
  for (const [key, value] of Object.entries(record.headers)) {
    if (typeof value === "string") out.set(key, value);
  }
  if (trace.traceparent) out.set(metadataKeys.traceparent, trace.traceparent);
  out.set(eventHeaders.type, record.type);
  out.set(eventHeaders.contentType, eventContentType);
  out.set(eventHeaders.occurredAt, record.createdAt.toISOString());
  return out;
}

const reportLag = (records: readonly OutboxRecord[]) =>
  eventMetrics.outboxLag.set(records.length ? Math.max(0, Date.now() - records[0]!.createdAt.getTime()) / 1000 : 0);

const sendSpan = messagingSpans("send");

const textOf = (value: unknown) => (typeof value === "string" ? value : undefined);

/** Publishes one record in a span of its own, whose parent is the outbox write the row's headers name. */
async function publishOne(js: JetStreamClient, record: OutboxRecord, publishTimeoutMs: number): Promise<void> {
  const shape = sendSpan(record.subject);
  const parent = {
    traceparent: textOf(record.headers[metadataKeys.traceparent]),
    tracestate: textOf(record.headers[metadataKeys.tracestate]),
  };
  const span = startSpan(shape.name, SpanKind.PRODUCER, parent, shape.attributes);
  if (span.recording) span.span.setAttribute("messaging.message.id", record.id);
  try {
    await js.publish(record.subject, record.payload, {
      msgID: record.id,
      headers: headersOf(record, span.carrier),
      timeout: publishTimeoutMs,
    });
    span.end();
  } catch (err) {
    span.end(err);
    throw err;
  }
}

/** Publishes `records` concurrently, the event id as message id; returns the ids JetStream acknowledged. */
async function publish(js: JetStreamClient, records: readonly OutboxRecord[], publishTimeoutMs: number, logger: Logger): Promise<string[]> {
  const results = await Promise.allSettled(records.map((record) => publishOne(js, record, publishTimeoutMs)));
  const sent: string[] = [];
  results.forEach((result, index) => {
    const record = records[index]!;
    if (result.status === "fulfilled") {
      sent.push(record.id);
      eventMetrics.outboxPublished.inc({ type: record.type });
    } else {
      eventMetrics.outboxPublishErrors.inc();
      logger.warn({ err: result.reason, eventId: record.id, subject: record.subject }, "outbox publish failed; will retry");
    }
  });
  return sent;
}

const markSent = `UPDATE ${outboxTable} SET sent_at = now() WHERE id = ANY($1::uuid[]) AND sent_at IS NULL`;

/**
 * Claims up to `batchSize` unsent rows in creation order (skipping rows another replica holds),
 * publishes them, and marks the acknowledged ones sent in the same transaction. A crash
 * between publish and commit republishes the rows later; JetStream drops those duplicates
 * within its window.
 */
async function relayBatch(
  tx: Sql,
  js: JetStreamClient,
  batchSize: number,
  publishTimeoutMs: number,
  logger: Logger,
): Promise<BatchOutcome> {
  const records = await tx.query<OutboxRecord>(
    `SELECT id, subject, type, payload, headers, created_at AS "createdAt" FROM ${outboxTable}
     WHERE sent_at IS NULL ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`,
    [batchSize],
  );
  reportLag(records);
  if (records.length === 0) return { claimed: 0, failed: 0, sent: [] };
  const sent = await publish(js, records, publishTimeoutMs, logger);
  if (sent.length > 0) await tx.execute(markSent, [sent]);
  return { claimed: records.length, failed: records.length - sent.length, sent };
}

/**
 * Publishes the service's outbox to JetStream until stopped. The events of each commit of
 * `enqueueEvents` on `db` in this process are handed to the relay, which publishes them at once
 * and marks them sent with one statement, without reading them back. Every `pollIntervalMs`
 * (and at start) it also claims the table's unsent rows: those of other processes that
 * stopped before publishing, those whose publish failed. Several replicas can run it on the
 * same table: each claims different rows, and a row published twice is one message in the
 * stream.
 */
export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const { db, nc, logger } = options;
  const batchSize = positiveInt("batchSize", options.batchSize ?? 500, 10_000);
  const pollIntervalMs = positiveInt("pollIntervalMs", options.pollIntervalMs ?? 1_000, maxPollIntervalMs);
  const publishTimeoutMs = positiveInt("publishTimeoutMs", options.publishTimeoutMs ?? 5_000);
  const markDelayMs = positiveInt("markDelayMs", options.markDelayMs ?? 50, maxPollIntervalMs);
  const js = nc.jetstream();
  const wakeup = new Wakeup();
  // Committed events waiting to be published from memory; bounded, the table holds them all anyway.
  const committed: OutboxRecord[] = [];
  const maxCommitted = batchSize * 4;
  let nextPollAt = 0;
  // Commits are left to the table while either holds: after a failed publish (the poll retries
  // at its interval), and when the queue overflowed (the relay claims from the table at once,
  // as often as commits come, until a claim comes back short).
  let publishingFailed = false;
  let behind = false;
  let stopping = false;

  const pollSoon = () => {
    nextPollAt = 0;
    wakeup.fire();
  };
  // Ids the last poll published. A commit's rows can be claimed by a poll before its hand-over
  // arrives (the commit is visible before its caller hears of it): those are published already.
  let polled: ReadonlySet<string> = new Set();
  const stopTaking = onEventsCommitted(db, (records) => {
    if (publishingFailed) return false;
    if (behind || committed.length + records.length > maxCommitted) {
      behind = true;
      committed.length = 0;
      pollSoon();
      return false;
    }
    for (const record of records) if (!polled.has(record.id)) committed.push(record);
    wakeup.fire();
    return true;
  });

  // Ids published from memory and not yet marked sent; marked together, one statement per batch.
  let unmarked: string[] = [];
  let markTimer: NodeJS.Timeout | undefined;
  let marking = Promise.resolve();
  const markPublished = (): Promise<void> => {
    clearTimeout(markTimer);
    markTimer = undefined;
    const ids = unmarked;
    unmarked = [];
    if (ids.length === 0) return marking;
    marking = marking.then(() =>
      db.execute(markSent, [ids]).then(
        () => undefined,
        (err: unknown) => logger.error({ err }, "outbox relay could not mark published events sent; the poll will republish them"),
      ),
    );
    return marking;
  };

  const publishCommitted = async (): Promise<void> => {
    const records = committed.splice(0, batchSize);
    reportLag(records);
    const sent = await publish(js, records, publishTimeoutMs, logger);
    unmarked.push(...sent);
    if (unmarked.length >= batchSize) await markPublished();
    else markTimer ??= setTimeout(() => void markPublished(), markDelayMs);
    if (sent.length === records.length) return;
    publishingFailed = true;
    committed.length = 0;
  };

  const poll = async (): Promise<BatchOutcome> => {
    // Rows published from memory are marked first, so the poll does not publish them again.
    await markPublished();
    try {
      const outcome = await db.transaction((tx) => relayBatch(tx, js, batchSize, publishTimeoutMs, logger));
      polled = new Set(outcome.sent);
      if (polled.size > 0 && committed.length > 0) {
        const left = committed.filter((record) => !polled.has(record.id));
        committed.length = 0;
        committed.push(...left);
      }
      return outcome;
    } catch (err) {
      logger.error({ err }, "outbox relay batch failed; will retry");
      return { claimed: 0, failed: 1, sent: [] };
    }
  };

  const loop = (async () => {
    while (!stopping) {
      if (committed.length > 0) {
        await publishCommitted();
        continue;
      }
      if (behind || Date.now() >= nextPollAt) {
        // Set before the poll, so that a notify() while it runs (which sets it to 0) is not lost.
        nextPollAt = Date.now() + pollIntervalMs;
        const outcome = await poll();
        const clean = outcome.failed === 0;
        // A full, clean batch means more rows are probably waiting: go on without sleeping.
        if (clean && outcome.claimed === batchSize) continue;
        if (clean && (publishingFailed || behind)) {
          // Caught up: commits go to memory again, after one more look for those refused meanwhile.
          publishingFailed = behind = false;
          nextPollAt = 0;
          continue;
        }
      }
      await wakeup.wait(Math.max(0, nextPollAt - Date.now()));
    }
  })();

  let stopped: Promise<void> | undefined;
  return {
    notify: pollSoon,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        stopTaking();
        wakeup.fire();
        await loop;
        while (committed.length > 0) await publishCommitted();
        await markPublished();
        for (;;) {
          const outcome = await poll();
          if (outcome.failed > 0 || outcome.claimed < batchSize) break;
        }
        logger.debug("outbox relay stopped");
      })();
      return stopped;
    },
  };
}
