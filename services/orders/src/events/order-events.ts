import { isMessage, type Message } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  type OrderCancelled,
  OrderCancelledSchema,
  type OrderConfirmed,
  OrderConfirmedSchema,
  type OrderPlaced,
  OrderPlacedSchema,
  type OrderPriced,
  OrderPricedSchema,
} from "@shop/contracts/shop/orders/v1/events_pb.js";
import { type OutboxEntry, outboxEntry } from "@shop/runtime";
import type { CancellationReason, Money, Order } from "../domain/order.js";
import type { OrderEvent } from "../domain/order-history.js";
import {
  addressFromMessage,
  addressMessage,
  moneyFromMessage,
  moneyMessage,
  orderItemMessage,
  orderLineFromMessage,
  timestamp,
} from "../messages/order-messages.js";
import type { PricedOrder } from "../saga/pricing.js";

/** The order events as outbox entries, written in the statement or transaction of the change they announce. */
export const orderEvents = {
  placed: (order: Order): OutboxEntry =>
    outboxEntry(OrderPlacedSchema, {
      orderId: order.id,
      userId: order.userId,
      items: order.items.map(orderItemMessage),
      shippingAddress: addressMessage(order.shippingAddress),
      occurTime: timestamp(order.createTime),
    }),

  priced: (order: { id: string; userId: string }, priced: PricedOrder, at: Date): OutboxEntry =>
    outboxEntry(OrderPricedSchema, {
      orderId: order.id,
      userId: order.userId,
      items: priced.lines.map(orderItemMessage),
      total: moneyMessage(priced.total),
      occurTime: timestamp(at),
    }),

  confirmed: (order: { id: string; userId: string }, total: Money, at: Date): OutboxEntry =>
    outboxEntry(OrderConfirmedSchema, { orderId: order.id, userId: order.userId, total: moneyMessage(total), occurTime: timestamp(at) }),

  cancelled: (order: { id: string; userId: string }, reason: CancellationReason, at: Date): OutboxEntry =>
    outboxEntry(OrderCancelledSchema, { orderId: order.id, userId: order.userId, reason, occurTime: timestamp(at) }),
};

const occurredAt = (event: { occurTime?: Parameters<typeof timestampDate>[0] }) =>
  event.occurTime ? timestampDate(event.occurTime) : new Date(0);

const zero: Money = { currency: "", amountMinor: 0n };

const orderEventFrom = {
  placed: (event: OrderPlaced): OrderEvent => ({
    kind: "placed",
    orderId: event.orderId,
    userId: event.userId,
    items: event.items.map((item) => ({ productId: item.productId, quantity: item.quantity })),
    shippingAddress: event.shippingAddress ? addressFromMessage(event.shippingAddress) : null,
    occurredAt: occurredAt(event),
  }),
  priced: (event: OrderPriced): OrderEvent => ({
    kind: "priced",
    orderId: event.orderId,
    userId: event.userId,
    lines: event.items.map(orderLineFromMessage),
    total: moneyFromMessage(event.total) ?? zero,
    occurredAt: occurredAt(event),
  }),
  confirmed: (event: OrderConfirmed): OrderEvent => ({
    kind: "confirmed",
    orderId: event.orderId,
    userId: event.userId,
    total: moneyFromMessage(event.total) ?? zero,
    occurredAt: occurredAt(event),
  }),
  cancelled: (event: OrderCancelled): OrderEvent => ({
    kind: "cancelled",
    orderId: event.orderId,
    userId: event.userId,
    reason: event.reason as CancellationReason,
    occurredAt: occurredAt(event),
  }),
};

/** An order event as the domain sees it; any other message is refused. */
export function orderEventOf(event: Message): OrderEvent {
  if (isMessage(event, OrderPlacedSchema)) return orderEventFrom.placed(event);
  if (isMessage(event, OrderPricedSchema)) return orderEventFrom.priced(event);
  if (isMessage(event, OrderConfirmedSchema)) return orderEventFrom.confirmed(event);
  if (isMessage(event, OrderCancelledSchema)) return orderEventFrom.cancelled(event);
  throw new TypeError(`${event.$typeName} is not an order event`);
}
