import type { Money as MoneyMessage } from "@shop/contracts/shop/common/v1/money_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { PaymentRefundedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { ShipmentCreatedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import {
  onEvent,
  startEventConsumer,
  type EventConsumer,
  type EventHandlers,
  type EventMeta,
  type Logger,
  type Sql,
  type SqlDatabase,
} from "@shop/runtime";
import type { NatsConnection } from "nats";
import type { NotificationRepository } from "../db/notifications.js";
import { composeNotification, type Money, type NotifiableEvent } from "../domain/notification.js";

/** Which streams the notifications consumers read, and under which durable name. */
export interface NotificationSubscription {
  consumerName: string;
  /** Publishing contexts whose streams are read (`orders` reads `SHOP_ORDERS`). */
  contexts: readonly string[];
}

export const defaultSubscription: NotificationSubscription = {
  consumerName: "notifications",
  contexts: ["orders", "shipping", "payments"],
};

const moneyOf = (message: MoneyMessage | undefined): Money | undefined =>
  message && { currencyCode: message.currencyCode, amountMinor: message.amountMinor };

/**
 * One handler per user-visible event type; each stores the notification it composes in the
 * consumer's transaction, keyed by the event id. Every other type on the streams is acked
 * unhandled by the runtime.
 */
export function notificationEventHandlers(notifications: NotificationRepository, logger: Logger): EventHandlers {
  const notify = async (event: NotifiableEvent, tx: Sql, meta: EventMeta) => {
    if (!event.userId) {
      logger.warn({ eventId: meta.eventId, type: meta.type }, "event names no user; nobody to notify");
      return;
    }
    const recorded = await notifications.record(tx, composeNotification(event), meta.eventId);
    if (!recorded) logger.debug({ eventId: meta.eventId, type: meta.type }, "event already notified");
  };
  return {
    [OrderConfirmedSchema.typeName]: onEvent(OrderConfirmedSchema, ({ orderId, userId, total }, tx, meta) =>
      notify({ kind: "order_confirmed", orderId, userId, total: moneyOf(total) }, tx, meta),
    ),
    [OrderCancelledSchema.typeName]: onEvent(OrderCancelledSchema, ({ orderId, userId, reason }, tx, meta) =>
      notify({ kind: "order_cancelled", orderId, userId, reason }, tx, meta),
    ),
    [ShipmentCreatedSchema.typeName]: onEvent(ShipmentCreatedSchema, ({ orderId, userId, trackingNumber }, tx, meta) =>
      notify({ kind: "shipment_created", orderId, userId, trackingNumber }, tx, meta),
    ),
    [PaymentRefundedSchema.typeName]: onEvent(PaymentRefundedSchema, ({ orderId, userId, amount }, tx, meta) =>
      notify({ kind: "payment_refunded", orderId, userId, amount: moneyOf(amount) }, tx, meta),
    ),
  };
}

/** Starts one durable consumer per source stream; if one cannot start, stops those that did. */
export async function startNotificationConsumers(options: {
  nc: NatsConnection;
  db: SqlDatabase;
  logger: Logger;
  subscription: NotificationSubscription;
  handlers: EventHandlers;
}): Promise<EventConsumer[]> {
  const { nc, db, logger, subscription, handlers } = options;
  const consumers: EventConsumer[] = [];
  try {
    for (const context of subscription.contexts) {
      consumers.push(await startEventConsumer({ nc, db, logger, consumerName: subscription.consumerName, context, handlers }));
    }
  } catch (err) {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
    throw err;
  }
  return consumers;
}
