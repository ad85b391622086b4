import { fromBinary } from "@bufbuild/protobuf";
import { inboxTable, replayStream, type SqlDatabase, type StoredEvent, streamName } from "@shop/runtime";
import type { NatsConnection } from "nats";
import type { OrderHistoryRepository } from "../db/order-history.js";
import { orderHistoryHandlers } from "./order-history-consumer.js";

/** Events applied per transaction: replaying one by one would spend most of its time committing. */
const batchSize = 200;

export interface RebuildResult {
  applied: number;
  /** Events the live consumer would dead-letter too (undecodable, not about a valid order). */
  skipped: { eventId: string; type: string; error: string }[];
}

/**
 * Rebuilds the order history from scratch: empties it, then replays the whole orders stream
 * through the consumer's own handlers, recording each event in the consumer's inbox so the
 * live consumer and the replay never apply one twice.
 */
export async function rebuildOrderHistory(options: {
  nc: NatsConnection;
  db: SqlDatabase;
  history: OrderHistoryRepository;
  consumerName: string;
  /** The orders stream unless told otherwise. */
  stream?: string;
}): Promise<RebuildResult> {
  const { nc, db, history, consumerName, stream = streamName("orders") } = options;
  await history.reset(consumerName);
  const handlers = orderHistoryHandlers(history);
  const result: RebuildResult = { applied: 0, skipped: [] };
  let batch: StoredEvent[] = [];

  const applyBatch = async () => {
    const events = batch;
    batch = [];
    await db.transaction(async (tx) => {
      for (const event of events) {
        const handler = handlers[event.type]!;
        // One bad event must not undo the others of its batch.
        await tx.execute(`SAVEPOINT replayed_event`);
        try {
          const recorded = await tx.execute(`INSERT INTO ${inboxTable} (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`, [
            consumerName,
            event.eventId,
          ]);
          if (recorded > 0) {
            await handler.handle(fromBinary(handler.schema, event.data), tx, { ...event, deliveryCount: 1 });
            result.applied += 1;
          }
          await tx.execute(`RELEASE SAVEPOINT replayed_event`);
        } catch (err) {
          await tx.execute(`ROLLBACK TO SAVEPOINT replayed_event`);
          result.skipped.push({ eventId: event.eventId, type: event.type, error: (err as Error).message });
        }
      }
    });
  };

  await replayStream({
    nc,
    stream,
    async handle(event) {
      if (!handlers[event.type]) return;
      batch.push(event);
      if (batch.length >= batchSize) await applyBatch();
    },
  });
  if (batch.length > 0) await applyBatch();
  return result;
}
