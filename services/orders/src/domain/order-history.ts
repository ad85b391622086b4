import {
  type CancellationReason,
  type Money,
  type OrderLine,
  type OrderStatus,
  type OrderView,
  type RequestedItem,
  type ShippingAddress,
  unpricedLines,
} from "./order.js";

/** The order events the history is built from, as the domain sees them. */
export type OrderEvent =
  | { kind: "placed"; orderId: string; userId: string; items: RequestedItem[]; shippingAddress: ShippingAddress | null; occurredAt: Date }
  | { kind: "priced"; orderId: string; userId: string; lines: OrderLine[]; total: Money; occurredAt: Date }
  | { kind: "confirmed"; orderId: string; userId: string; total: Money; occurredAt: Date }
  | { kind: "cancelled"; orderId: string; userId: string; reason: CancellationReason; occurredAt: Date };

/** One order of a user's history; `priced` tells whether its lines carry the price snapshot yet. */
export interface OrderHistoryEntry {
  order: OrderView;
  priced: boolean;
}

// A later status never goes back: CONFIRMED may still become CANCELLED, never PENDING again.
const statusRank: Record<OrderStatus, number> = { PENDING: 0, CONFIRMED: 1, CANCELLED: 2 };

const statusOf: Record<OrderEvent["kind"], OrderStatus> = {
  placed: "PENDING",
  priced: "PENDING",
  confirmed: "CONFIRMED",
  cancelled: "CANCELLED",
};

function emptyEntry(event: OrderEvent): OrderHistoryEntry {
  return {
    priced: false,
    order: {
      id: event.orderId,
      userId: event.userId,
      status: "PENDING",
      items: [],
      total: null,
      cancellationReason: "",
      shippingAddress: null,
      createTime: event.occurredAt,
      updateTime: event.occurredAt,
    },
  };
}

/**
 * Folds one event into a history entry. Every field only ever moves one way (status up,
 * unpriced lines to priced ones, times outwards), so the result is the same whatever
 * order the events arrive in and however often one is applied.
 */
export function applyOrderEvent(entry: OrderHistoryEntry | undefined, event: OrderEvent): OrderHistoryEntry {
  const current = entry ?? emptyEntry(event);
  const order: OrderView = { ...current.order };
  let priced = current.priced;
  const status = statusOf[event.kind];
  if (statusRank[status] > statusRank[order.status]) order.status = status;
  if (event.occurredAt < order.createTime) order.createTime = event.occurredAt;
  if (event.occurredAt > order.updateTime) order.updateTime = event.occurredAt;
  switch (event.kind) {
    case "placed":
      order.shippingAddress = event.shippingAddress;
      if (!priced) order.items = unpricedLines(event.items);
      break;
    case "priced":
      order.items = event.lines;
      order.total = event.total;
      priced = true;
      break;
    case "confirmed":
      order.total = event.total;
      break;
    case "cancelled":
      order.cancellationReason = event.reason;
      break;
  }
  return { order, priced };
}
