import { connect } from "nats";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ensureStreams, registration, startOutboxRelay, type Logger, type StartedParts } from "@shop/runtime";
import { createPaymentsDb } from "./db/client.js";
import { PaymentRepository } from "./db/payments.js";
import { paymentHandlers } from "./handlers/payment-handlers.js";
import type { PaymentsConfig } from "./config.js";

/** Wires payments: database, event relay to NATS, repository, handlers. No listening here. */
export async function buildPayments({ config, logger }: { config: PaymentsConfig; logger: Logger }): Promise<StartedParts> {
  const db = createPaymentsDb(config.databaseUrl);
  const nc = await connect({ servers: config.natsUrl, name: "payments" });
  try {
    await ensureStreams(await nc.jetstreamManager(), ["payments"]);
  } catch (err) {
    await nc.close();
    await db.$disconnect();
    throw err;
  }
  const relay = startOutboxRelay({ db, nc, logger });
  const payments = new PaymentRepository(db, () => relay.notify());
  return {
    registrations: [
      registration(PaymentService, paymentHandlers(payments, { amountLimitMinor: BigInt(config.PAYMENT_AMOUNT_LIMIT_MINOR) })),
    ],
    async stop() {
      await relay.stop();
      await nc.drain();
      await db.$disconnect();
    },
  };
}
