import type { CancellationReason, NewOrder, Order, OrderLine, ShippingAddress } from "../domain/order.js";
import { orderEvents } from "../events/order-events.js";
import type { SagaPhase } from "../saga/checkout-saga.js";
import type { OrdersDb } from "./client.js";
import type { Prisma } from "./generated/client.js";

const withItems = { items: { orderBy: { position: "asc" } } } as const;
type OrderRow = Prisma.OrderGetPayload<{ include: typeof withItems }>;

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === "P2002";

export function orderFromRow(row: OrderRow): Order {
  const priced = row.currency !== "";
  const money = (amountMinor: bigint) => ({ currency: row.currency, amountMinor });
  return {
    id: row.id,
    userId: row.userId,
    status: row.status,
    items: row.items.map(
      (item): OrderLine => ({
        productId: item.productId,
        quantity: item.quantity,
        name: item.name,
        unitPrice: priced ? money(item.unitPriceMinor) : null,
        lineTotal: priced ? money(item.unitPriceMinor * BigInt(item.quantity)) : null,
      }),
    ),
    total: priced ? money(row.totalMinor) : null,
    cancellationReason: row.cancellationReason as CancellationReason | "",
    shippingAddress: row.shippingAddress as unknown as ShippingAddress,
    paymentToken: row.paymentToken,
    createTime: row.createdAt,
    updateTime: row.updatedAt,
  };
}

/** Where the work of a new order came from, so its saga carries the same correlation id and trace. */
export interface WorkOrigin {
  correlationId: string;
  traceparent?: string;
  tracestate?: string;
}

/** Where a customer's cancellation request stands. */
export interface CancellationState {
  phase: SagaPhase;
  cancelRequested: boolean;
  cancelRejection: string;
}

/** Orders over Prisma: the write model of the orders service. */
export class OrderRepository {
  /** `eventsCommitted` runs after a transaction that wrote events commits (wakes the outbox relay). */
  constructor(
    private readonly db: OrdersDb,
    private readonly eventsCommitted: () => void = () => {},
  ) {}

  /**
   * Stores a PENDING order, its saga and the OrderPlaced event in one transaction. With an
   * idempotency key already used by the same user, returns that user's first order instead.
   */
  async place(order: NewOrder, origin: WorkOrigin): Promise<{ order: Order; created: boolean }> {
    if (order.idempotencyKey) {
      const earlier = await this.findByIdempotencyKey(order.userId, order.idempotencyKey);
      if (earlier) return { order: earlier, created: false };
    }
    try {
      const created = await this.db.$transaction(async (tx) => {
        const row = await tx.order.create({
          data: {
            id: order.id,
            userId: order.userId,
            shippingAddress: { ...order.shippingAddress },
            paymentToken: order.paymentToken,
            idempotencyKey: order.idempotencyKey,
            items: { create: order.items.map((item, position) => ({ position, productId: item.productId, quantity: item.quantity })) },
            saga: { create: { correlationId: origin.correlationId, traceparent: origin.traceparent, tracestate: origin.tracestate } },
          },
          include: withItems,
        });
        const placed = orderFromRow(row);
        await orderEvents.placed(tx, placed);
        return placed;
      });
      this.eventsCommitted();
      return { order: created, created: true };
    } catch (err) {
      if (!order.idempotencyKey || !isUniqueViolation(err)) throw err;
      // The same key raced in from another request: the first order wins.
      const earlier = await this.findByIdempotencyKey(order.userId, order.idempotencyKey);
      if (!earlier) throw err;
      return { order: earlier, created: false };
    }
  }

  async get(id: string): Promise<Order | null> {
    const row = await this.db.order.findUnique({ where: { id }, include: withItems });
    return row && orderFromRow(row);
  }

  private async findByIdempotencyKey(userId: string, idempotencyKey: string): Promise<Order | null> {
    const row = await this.db.order.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey } }, include: withItems });
    return row && orderFromRow(row);
  }

  /**
   * Records a customer's wish to cancel; the saga acts on it at its next step boundary.
   * Touches only the saga row, so it never waits on a runner's transaction for long.
   */
  async requestCancellation(orderId: string): Promise<boolean> {
    const { count } = await this.db.checkoutSaga.updateMany({
      where: { orderId, phase: { not: "CANCELLED" } },
      data: { cancelRequested: true, cancelRejection: "" },
    });
    return count > 0;
  }

  async cancellationState(orderId: string): Promise<CancellationState | null> {
    return this.db.checkoutSaga.findUnique({
      where: { orderId },
      select: { phase: true, cancelRequested: true, cancelRejection: true },
    });
  }
}
