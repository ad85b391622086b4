import { OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import {
  type EventConsumer,
  type EventPublishing,
  registration,
  type ServiceDeps,
  type StartedParts,
  startEventPublishing,
} from "@shop/runtime";
import type { OrdersConfig } from "./config.js";
import { OrderHistoryRepository } from "./db/order-history.js";
import { OrderRepository } from "./db/orders.js";
import { SagaStore } from "./db/sagas.js";
import { connectDownstream } from "./downstream/clients.js";
import { orderEvents } from "./events/order-events.js";
import { startOrderHistoryConsumer } from "./events/order-history-consumer.js";
import { orderHandlers } from "./handlers/order-handlers.js";
import { SagaRunner } from "./saga/saga-runner.js";
import { DownstreamStepExecutor, type SagaStepExecutor } from "./saga/step-executor.js";

export interface OrdersOverrides {
  /** Wraps the saga's downstream calls (tests observe or interrupt them). */
  wrapExecutor?: (executor: SagaStepExecutor) => SagaStepExecutor;
}

/**
 * Wires orders: downstream clients, the checkout saga runner, the outbox relay, the order
 * history consumer and the handlers. No listening here.
 */
export async function buildOrders(
  { config, logger, db }: ServiceDeps<OrdersConfig>,
  overrides: OrdersOverrides = {},
): Promise<StartedParts> {
  const history = new OrderHistoryRepository(db);
  let events: EventPublishing | undefined;
  let consumer: EventConsumer;
  try {
    events = await startEventPublishing({ context: "orders", natsUrl: config.natsUrl, db, logger });
    consumer = await startOrderHistoryConsumer({ nc: events.nc, db, logger, consumerName: config.ORDER_HISTORY_CONSUMER, history });
  } catch (err) {
    await events?.stop();
    throw err;
  }

  const downstream = connectDownstream({
    // loadOrdersConfig refuses to load without it.
    credential: config.credential!,
    addresses: {
      catalog: config.CATALOG_ADDR,
      inventory: config.INVENTORY_ADDR,
      payments: config.PAYMENTS_ADDR,
      shipping: config.SHIPPING_ADDR,
    },
    callTimeoutMs: config.DOWNSTREAM_TIMEOUT_MS,
    resilience: {
      maxConcurrentCalls: config.DOWNSTREAM_MAX_CONCURRENT_CALLS,
      maxQueuedCalls: config.DOWNSTREAM_MAX_QUEUED_CALLS,
      breakerThreshold: config.DOWNSTREAM_BREAKER_THRESHOLD,
      breakerHalfOpenAfterMs: config.DOWNSTREAM_BREAKER_HALF_OPEN_MS,
    },
  });
  const executor = new DownstreamStepExecutor(downstream, {
    attempts: config.SAGA_STEP_ATTEMPTS,
    backoffBaseMs: config.SAGA_BACKOFF_BASE_MS,
    backoffMaxMs: config.SAGA_BACKOFF_MAX_MS,
  });
  const orders = new OrderRepository(db, orderEvents);
  const runner = new SagaRunner(
    { sagas: new SagaStore(db, orderEvents), orders, executor: overrides.wrapExecutor?.(executor) ?? executor, logger },
    {
      leaseMs: config.SAGA_LEASE_MS,
      concurrency: config.SAGA_CONCURRENCY,
      pollIntervalMs: config.SAGA_POLL_MS,
      backoffBaseMs: config.SAGA_BACKOFF_BASE_MS,
      backoffMaxMs: config.SAGA_BACKOFF_MAX_MS,
      recordAttempts: config.SAGA_RECORD_ATTEMPTS,
    },
  );
  runner.start();

  return {
    registrations: [
      registration(OrderService, orderHandlers({ orders, history, sagas: runner, cancelWaitMs: config.ORDER_CANCEL_WAIT_MS })),
    ],
    async stop() {
      await runner.stop(config.shutdownGraceMs);
      downstream.close();
      await consumer.stop();
      await events.stop();
    },
  };
}
