import { env, loadServiceConfig } from "@shop/runtime";

/** A snapshot of a payment's stream every this many events. */
export const snapshotEverySpec = { PAYMENT_SNAPSHOT_EVERY: env.int(2, { min: 1 }) };

export const loadPaymentsConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig(
    "payments",
    {
      PAYMENT_AMOUNT_LIMIT_MINOR: env.int(1_000_000, { min: 0 }),
      ...snapshotEverySpec,
    },
    source,
  );

export type PaymentsConfig = ReturnType<typeof loadPaymentsConfig>;
