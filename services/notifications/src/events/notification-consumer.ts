import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Money as MoneyMessage } from "@shop/contracts/shop/common/v1/money_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema } from "@shop/contracts/shop/orders/v1/events_pb.js";
import { PaymentRefundedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { ShipmentCreatedSchema } from "@shop/contracts/shop/shipping/v1/events_pb.js";
import {
  type EventConsumer,
  type EventHandlers,
  type EventMeta,
  type Logger,
  onEvents,
  type Sql,
  type SqlDatabase,
  startEventConsumer,
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
 * One handler per user-visible event type; each stores the notifications it composes in the
 * consumer's transaction, keyed by the event id, all events of a batch in one statement.
 * Every other type on the streams is acked unhandled by the runtime.
 */
export function notificationEventHandlers(notifications: NotificationRepository, logger: Logger): EventHandlers {
  const notify = async (events: { notifiable: NotifiableEvent; meta: EventMeta }[], tx: Sql) => {
    const addressed = events.filter(({ notifiable, meta }) => {
      if (!notifiable.userId) logger.warn({ eventId: meta.eventId, type: meta.type }, "event names no user; nobody to notify");
      return Boolean(notifiable.userId);
    });
    const stored = await notifications.recordAll(
      tx,
      addressed.map(({ notifiable, meta }) => ({ draft: composeNotification(notifiable), sourceEventId: meta.eventId })),
    );
    for (const { meta } of addressed) {
      if (!stored.has(meta.eventId)) logger.debug({ eventId: meta.eventId, type: meta.type }, "event already notified");
    }
  };
  const handler = <S extends DescMessage>(schema: S, toNotifiable: (event: MessageShape<S>) => NotifiableEvent) =>
    onEvents(schema, (events, tx) =>
      notify(
        events.map(({ event, meta }) => ({ notifiable: toNotifiable(event), meta })),
        tx,
      ),
    );
  return {
    [OrderConfirmedSchema.typeName]: handler(OrderConfirmedSchema, ({ orderId, userId, total }) => ({
      kind: "order_confirmed",
      orderId,
      userId,
      total: moneyOf(total),
    })),
    [OrderCancelledSchema.typeName]: handler(OrderCancelledSchema, ({ orderId, userId, reason }) => ({
      kind: "order_cancelled",
      orderId,
      userId,
      reason,
    })),
    [ShipmentCreatedSchema.typeName]: handler(ShipmentCreatedSchema, ({ orderId, userId, trackingNumber }) => ({
      kind: "shipment_created",
      orderId,
      userId,
      trackingNumber,
    })),
    [PaymentRefundedSchema.typeName]: handler(PaymentRefundedSchema, ({ orderId, userId, amount }) => ({
      kind: "payment_refunded",
      orderId,
      userId,
      amount: moneyOf(amount),
    })),
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
