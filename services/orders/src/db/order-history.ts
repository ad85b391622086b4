import { create, fromJson, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Order as OrderMessage, OrderSchema } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import type { PageEnd, Sql, SqlDatabase } from "@shop/runtime";
import { applyOrderEvent, type OrderEvent, type OrderHistoryEntry } from "../domain/order-history.js";
import { orderMessage, orderViewFromMessage } from "../messages/order-messages.js";

interface HistoryRow {
  order_id: string;
  priced: boolean;
  order: JsonValue;
}

interface PageRow {
  order_id: string;
  order: JsonValue;
  create_time: Date;
}

/** An order of a user's history, and where a page that ends with it ends. */
export interface HistoryListing {
  order: OrderMessage;
  end: PageEnd;
}

/**
 * The order history read model: one row per order holding the order as the API returns it.
 * Written only by the event consumer (and its rebuild), read by ListOrders.
 */
export class OrderHistoryRepository {
  constructor(private readonly db: SqlDatabase) {}

  /** Folds `events`, in their order, into their orders' rows, inside the consumer's transaction. */
  async apply(tx: Sql, events: readonly OrderEvent[]): Promise<void> {
    if (events.length === 0) return;
    const keyOf = (event: OrderEvent) => event.orderId.toLowerCase();
    const orderIds = [...new Set(events.map(keyOf))];
    // Serializes the events of an order across replicas, including its very first insert; the
    // keys are taken in one order everywhere, so overlapping batches wait instead of
    // deadlocking. The locks are a statement of their own: the read after them must take its
    // snapshot once they are held, or it misses what the transaction it waited for committed.
    await tx.query(
      `SELECT pg_advisory_xact_lock(key) FROM (SELECT DISTINCT hashtext(id) AS key FROM unnest($1::text[]) AS id ORDER BY key) AS keys`,
      [orderIds],
    );
    const rows = await tx.query<HistoryRow>(`SELECT order_id, priced, "order" FROM order_history WHERE order_id = ANY($1::uuid[])`, [
      orderIds,
    ]);
    const entries = new Map<string, OrderHistoryEntry>(
      rows.map((row) => [row.order_id, { priced: row.priced, order: orderViewFromMessage(fromJson(OrderSchema, row.order)) }]),
    );
    for (const event of events) entries.set(keyOf(event), applyOrderEvent(entries.get(keyOf(event)), event));
    const folded = orderIds.map((id) => entries.get(id)!);
    await tx.execute(
      `INSERT INTO order_history (order_id, user_id, status, priced, "order", create_time, update_time)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::"OrderStatus"[], $4::boolean[], $5::jsonb[], $6::timestamptz[], $7::timestamptz[])
       ON CONFLICT (order_id) DO UPDATE SET user_id = EXCLUDED.user_id, status = EXCLUDED.status, priced = EXCLUDED.priced,
         "order" = EXCLUDED."order", create_time = EXCLUDED.create_time, update_time = EXCLUDED.update_time`,
      [
        folded.map(({ order }) => order.id),
        folded.map(({ order }) => order.userId),
        folded.map(({ order }) => order.status),
        folded.map(({ priced }) => priced),
        folded.map(({ order }) => JSON.stringify(toJson(OrderSchema, create(OrderSchema, orderMessage(order))))),
        folded.map(({ order }) => order.createTime),
        folded.map(({ order }) => order.updateTime),
      ],
    );
  }

  /** Up to `limit` of a user's orders, newest first, strictly after `after`. */
  async listForUser(userId: string, limit: number, after?: PageEnd): Promise<HistoryListing[]> {
    const rows = after
      ? await this.db.query<PageRow>(
          `SELECT order_id, "order", create_time FROM order_history
           WHERE user_id = $1 AND (create_time, order_id) < ($2::timestamptz, $3::uuid)
           ORDER BY create_time DESC, order_id DESC LIMIT $4`,
          [userId, after.time, after.id, limit],
        )
      : await this.db.query<PageRow>(
          `SELECT order_id, "order", create_time FROM order_history WHERE user_id = $1 ORDER BY create_time DESC, order_id DESC LIMIT $2`,
          [userId, limit],
        );
    return rows.map((row) => ({ order: fromJson(OrderSchema, row.order), end: { time: row.create_time, id: row.order_id } }));
  }

  /** Empties the table and forgets which events `consumer` applied, so a replay applies them all again. */
  async reset(consumer: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.execute(`TRUNCATE order_history`);
      await tx.execute(`DELETE FROM inbox_events WHERE consumer = $1`, [consumer]);
    });
  }
}
