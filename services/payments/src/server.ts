import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { registration, startEventPublishing, type EventPublishing, type Logger, type StartedParts } from "@shop/runtime";
import { createPaymentsDb } from "./db/client.js";
import { PaymentRepository } from "./db/payments.js";
import { paymentHandlers } from "./handlers/payment-handlers.js";
import type { PaymentsConfig } from "./config.js";

/** Wires payments: database, event relay to NATS, repository, handlers. No listening here. */
export async function buildPayments({ config, logger }: { config: PaymentsConfig; logger: Logger }): Promise<StartedParts> {
  const db = createPaymentsDb(config.databaseUrl, config.databasePoolSize);
  let events: EventPublishing;
  try {
    events = await startEventPublishing({ context: "payments", natsUrl: config.natsUrl, db, logger });
  } catch (err) {
    await db.$disconnect();
    throw err;
  }
  const payments = new PaymentRepository(db, () => events.relay.notify());
  return {
    registrations: [
      registration(PaymentService, paymentHandlers(payments, { amountLimitMinor: BigInt(config.PAYMENT_AMOUNT_LIMIT_MINOR) })),
    ],
    async stop() {
      await events.stop();
      await db.$disconnect();
    },
  };
}
