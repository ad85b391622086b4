import { env, loadServiceConfig, serviceAddress } from "@shop/runtime";

/** Durable consumer that builds the order history; one name per deployment. */
export const historyConsumerSpec = { ORDER_HISTORY_CONSUMER: env.string("orders-history") };

export const loadOrdersConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig(
    "orders",
    {
      CATALOG_ADDR: env.string(serviceAddress("catalog", source)),
      INVENTORY_ADDR: env.string(serviceAddress("inventory", source)),
      PAYMENTS_ADDR: env.string(serviceAddress("payments", source)),
      SHIPPING_ADDR: env.string(serviceAddress("shipping", source)),
      /** Deadline of each downstream call the saga makes. */
      DOWNSTREAM_TIMEOUT_MS: env.int(3_000, { min: 1 }),
      DOWNSTREAM_MAX_CONCURRENT_CALLS: env.int(32, { min: 1 }),
      DOWNSTREAM_MAX_QUEUED_CALLS: env.int(256, { min: 0 }),
      DOWNSTREAM_BREAKER_THRESHOLD: env.int(10, { min: 1 }),
      DOWNSTREAM_BREAKER_HALF_OPEN_MS: env.int(1_000, { min: 1 }),
      /** Calls per saga step (the first included) before transient errors count as a failure. */
      SAGA_STEP_ATTEMPTS: env.int(6, { min: 1 }),
      SAGA_BACKOFF_BASE_MS: env.int(50, { min: 1 }),
      SAGA_BACKOFF_MAX_MS: env.int(2_000, { min: 1 }),
      /** Tries of a step whose outcome cannot be recorded before it counts as failed and the order is cancelled. */
      SAGA_RECORD_ATTEMPTS: env.int(5, { min: 1 }),
      SAGA_LEASE_MS: env.int(5_000, { min: 100 }),
      SAGA_CONCURRENCY: env.int(64, { min: 1 }),
      SAGA_POLL_MS: env.int(1_000, { min: 10 }),
      /** Longest CancelOrder waits for a confirmed order's shipment cancellation and refund. */
      ORDER_CANCEL_WAIT_MS: env.int(5_000, { min: 0 }),
      ...historyConsumerSpec,
    },
    source,
    { callsOthers: "calls catalog, payments, inventory and shipping" },
  );

export type OrdersConfig = ReturnType<typeof loadOrdersConfig>;
