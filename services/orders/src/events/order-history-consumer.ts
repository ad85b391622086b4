import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderPlacedSchema,
  OrderPricedSchema,
} from "@shop/contracts/shop/orders/v1/events_pb.js";
import { type EventConsumer, type EventHandlers, type Logger, onEventsOfTypes, type SqlDatabase, startEventConsumer } from "@shop/runtime";
import type { NatsConnection } from "nats";
import type { OrderHistoryRepository } from "../db/order-history.js";
import { orderEventOf } from "./order-events.js";

/** The order events that build the history: those that arrived together are folded into their orders' rows at once. */
export function orderHistoryHandlers(history: OrderHistoryRepository): EventHandlers {
  return onEventsOfTypes([OrderPlacedSchema, OrderPricedSchema, OrderConfirmedSchema, OrderCancelledSchema], (events, tx) =>
    history.apply(
      tx,
      events.map(({ event }) => orderEventOf(event)),
    ),
  );
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
