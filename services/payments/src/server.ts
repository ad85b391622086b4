import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { registration, type Logger, type StartedParts } from "@shop/runtime";
import { createPaymentsDb } from "./db/client.js";
import { PaymentRepository } from "./db/payments.js";
import { paymentHandlers } from "./handlers/payment-handlers.js";
import type { PaymentsConfig } from "./config.js";

/** Wires payments: database, repository, handlers. No listening here. */
export async function buildPayments({ config }: { config: PaymentsConfig; logger: Logger }): Promise<StartedParts> {
  const db = createPaymentsDb(config.databaseUrl);
  const payments = new PaymentRepository(db);
  return {
    registrations: [
      registration(PaymentService, paymentHandlers(payments, { amountLimitMinor: BigInt(config.PAYMENT_AMOUNT_LIMIT_MINOR) })),
    ],
    stop: () => db.$disconnect(),
  };
}
