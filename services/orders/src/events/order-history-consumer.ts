import type { NatsConnection } from "nats";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderPlacedSchema,
  OrderPricedSchema,
} from "@shop/contracts/shop/orders/v1/events_pb.js";
import { onEvent, startEventConsumer, type EventConsumer, type EventHandlers, type Logger, type SqlDatabase } from "@shop/runtime";
import type { OrderHistoryRepository } from "../db/order-history.js";
import { orderEventFrom } from "./order-events.js";

/** The order events that build the history, each folded into its order's row. */
export function orderHistoryHandlers(history: OrderHistoryRepository): EventHandlers {
  return {
    [OrderPlacedSchema.typeName]: onEvent(OrderPlacedSchema, (event, tx) => history.apply(tx, orderEventFrom.placed(event))),
    [OrderPricedSchema.typeName]: onEvent(OrderPricedSchema, (event, tx) => history.apply(tx, orderEventFrom.priced(event))),
    [OrderConfirmedSchema.typeName]: onEvent(OrderConfirmedSchema, (event, tx) => history.apply(tx, orderEventFrom.confirmed(event))),
    [OrderCancelledSchema.typeName]: onEvent(OrderCancelledSchema, (event, tx) => history.apply(tx, orderEventFrom.cancelled(event))),
  };
}

/** The durable consumer of the orders stream that keeps the order history up to date. */
export function startOrderHistoryConsumer(options: {
  nc: NatsConnection;
  db: SqlDatabase;
  logger: Logger;
  consumerName: string;
  history: OrderHistoryRepository;
}): Promise<EventConsumer> {
  return startEventConsumer({
    nc: options.nc,
    db: options.db,
    logger: options.logger,
    consumerName: options.consumerName,
    context: "orders",
    handlers: orderHistoryHandlers(options.history),
  });
}
