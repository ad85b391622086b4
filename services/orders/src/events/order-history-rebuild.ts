import { fromBinary } from "@bufbuild/protobuf";
import type { NatsConnection } from "nats";
import { inboxTable, replayStream, streamName, type EventDatabase } from "@shop/runtime";
import type { OrderHistoryRepository } from "../db/order-history.js";
import { orderHistoryHandlers } from "./order-history-consumer.js";

/**
 * Rebuilds the order history from scratch: empties it, then replays the whole orders stream
 * through the consumer's own handlers, recording each event in the consumer's inbox so the
 * live consumer and the replay never apply one twice. Returns how many events were applied.
 */
export async function rebuildOrderHistory(options: {
  nc: NatsConnection;
  db: EventDatabase;
  history: OrderHistoryRepository;
  consumerName: string;
}): Promise<number> {
  const { nc, db, history, consumerName } = options;
  await history.reset(consumerName);
  const handlers = orderHistoryHandlers(history);
  let applied = 0;
  await replayStream({
    nc,
    stream: streamName("orders"),
    async handle(event) {
      const handler = handlers[event.type];
      if (!handler) return;
      const message = fromBinary(handler.schema, event.data);
      await db.$transaction(async (tx) => {
        const recorded = await tx.$executeRawUnsafe(
          `INSERT INTO ${inboxTable} (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`,
          consumerName,
          event.eventId,
        );
        if (recorded === 0) return;
        await handler.handle(message, tx, { ...event, deliveryCount: 1 });
        applied += 1;
      });
    },
  });
  return applied;
}
