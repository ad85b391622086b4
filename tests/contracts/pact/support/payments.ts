import { randomUUID } from "node:crypto";
import type { Client } from "@connectrpc/connect";
import type { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";

/** Takes a new order's payment through payments' own API to refunded; returns the order id. */
export async function refundAPayment(payments: Client<typeof PaymentService>): Promise<string> {
  const orderId = randomUUID();
  await payments.authorizePayment({
    orderId,
    userId: randomUUID(),
    amount: { currencyCode: "USD", amountMinor: 2598n },
    paymentToken: "tok_visa",
  });
  await payments.capturePayment({ orderId });
  await payments.refundPayment({ orderId });
  return orderId;
}
