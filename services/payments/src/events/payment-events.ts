import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  PaymentAuthorizedSchema,
  PaymentCapturedSchema,
  PaymentDeclinedSchema,
  PaymentRefundedSchema,
  PaymentVoidedSchema,
} from "@shop/contracts/shop/payments/v1/events_pb.js";
import { enqueueEvent, type Sql } from "@shop/runtime";
import type { Payment } from "../domain/payment.js";

/**
 * Writes, inside `tx`, the event of `payment` entering its current status: every status a
 * payment can enter has exactly one event.
 */
export async function enqueuePaymentEvent(tx: Sql, payment: Payment): Promise<void> {
  const { id: paymentId, orderId } = payment;
  const userId = payment.userId ?? "";
  const occurTime = timestampFromDate(payment.updatedAt);
  const amount =
    payment.currency !== null && payment.amountMinor !== null
      ? { currencyCode: payment.currency, amountMinor: payment.amountMinor }
      : undefined;
  switch (payment.status) {
    case "AUTHORIZED":
      await enqueueEvent(tx, PaymentAuthorizedSchema, { paymentId, orderId, userId, amount, occurTime });
      return;
    case "DECLINED":
      await enqueueEvent(tx, PaymentDeclinedSchema, { paymentId, orderId, userId, reason: payment.declineReason ?? "", occurTime });
      return;
    case "CAPTURED":
      await enqueueEvent(tx, PaymentCapturedSchema, { paymentId, orderId, userId, amount, occurTime });
      return;
    case "VOIDED":
      await enqueueEvent(tx, PaymentVoidedSchema, { paymentId, orderId, userId, occurTime });
      return;
    case "REFUNDED":
      await enqueueEvent(tx, PaymentRefundedSchema, { paymentId, orderId, userId, amount, occurTime });
      return;
  }
}
