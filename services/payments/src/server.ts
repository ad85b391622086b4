import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { registration, type ServiceDeps, type StartedParts, startEventPublishing } from "@shop/runtime";
import type { PaymentsConfig } from "./config.js";
import { PaymentLedger } from "./db/payments.js";
import { paymentHandlers } from "./handlers/payment-handlers.js";

/** Wires payments: event relay to NATS, ledger, handlers. No listening here. */
export async function buildPayments({ config, logger, db }: ServiceDeps<PaymentsConfig>): Promise<StartedParts> {
  const events = await startEventPublishing({ context: "payments", natsUrl: config.natsUrl, db, logger });
  const ledger = new PaymentLedger(db, { snapshotEvery: config.PAYMENT_SNAPSHOT_EVERY });
  return {
    registrations: [registration(PaymentService, paymentHandlers(ledger, { amountLimitMinor: BigInt(config.PAYMENT_AMOUNT_LIMIT_MINOR) }))],
    stop: () => events.stop(),
  };
}
