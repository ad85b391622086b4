import { env, loadServiceConfig } from "@shop/runtime";

export const loadPaymentsConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig(
    "payments",
    {
      PAYMENT_AMOUNT_LIMIT_MINOR: env.int(1_000_000, { min: 0 }),
      PAYMENT_SNAPSHOT_EVERY: env.int(2, { min: 1 }),
    },
    source,
  );

export type PaymentsConfig = ReturnType<typeof loadPaymentsConfig>;
