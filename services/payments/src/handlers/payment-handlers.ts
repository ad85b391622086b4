import { randomUUID } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type PaymentSchema, type PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { dependencyUnavailable, errors } from "@shop/runtime";
import type { PaymentRepository } from "../db/payments.js";
import {
  authorizationRefusal,
  operationRefusal,
  type Payment,
  type PaymentOperation,
  transitions,
  voidTombstone,
} from "../domain/payment.js";
import { decideAuthorization } from "../domain/provider.js";

export function toPaymentMessage(payment: Payment): MessageInitShape<typeof PaymentSchema> {
  return {
    id: payment.id,
    orderId: payment.orderId,
    userId: payment.userId ?? "",
    status: PaymentStatus[payment.status],
    amount:
      payment.currency !== null && payment.amountMinor !== null
        ? { currencyCode: payment.currency, amountMinor: payment.amountMinor }
        : undefined,
    declineReason: payment.declineReason ?? "",
    createTime: timestampFromDate(payment.createdAt),
    updateTime: timestampFromDate(payment.updatedAt),
  };
}

const paymentNotFound = (orderId: string) => errors.notFound("payment for order", orderId);

export function paymentHandlers(
  payments: PaymentRepository,
  { amountLimitMinor }: { amountLimitMinor: bigint },
): ServiceImpl<typeof PaymentService> {
  /** The answer to an authorization of an order that already has a payment. */
  function repeatedAuthorization(payment: Payment) {
    const refusal = authorizationRefusal(payment);
    if (refusal) throw errors.failedPrecondition(refusal);
    return { payment: toPaymentMessage(payment) };
  }

  /** Applies `operation` once; null when the order has no payment. */
  async function apply(operation: PaymentOperation, orderId: string): Promise<Payment | null> {
    const { from, to } = transitions[operation];
    const result = await payments.transition(orderId, from, to);
    if (!result) return null;
    const refusal = result.changed ? undefined : operationRefusal(operation, result.payment);
    if (refusal) throw errors.failedPrecondition(refusal);
    return result.payment;
  }

  return {
    async authorizePayment(req) {
      const existing = await payments.findByOrder(req.orderId);
      if (existing) return repeatedAuthorization(existing);
      const amount = req.amount!;
      const attempt = await payments.countAuthorizationAttempt(req.orderId);
      const decision = decideAuthorization({ token: req.paymentToken, amountMinor: amount.amountMinor, attempt }, amountLimitMinor);
      if (decision.outcome === "unavailable") throw dependencyUnavailable("payment provider temporarily unavailable");
      const created = await payments.createFirst({
        id: randomUUID(),
        orderId: req.orderId,
        userId: req.userId,
        status: decision.outcome === "approved" ? "AUTHORIZED" : "DECLINED",
        currency: amount.currencyCode,
        amountMinor: amount.amountMinor,
        declineReason: decision.outcome === "declined" ? decision.reason : null,
      });
      if (created) return { payment: toPaymentMessage(created) };
      const winner = await payments.findByOrder(req.orderId);
      if (!winner) throw errors.internal();
      return repeatedAuthorization(winner);
    },

    async capturePayment(req) {
      const payment = await apply("capture", req.orderId);
      if (!payment) throw paymentNotFound(req.orderId);
      return { payment: toPaymentMessage(payment) };
    },

    async voidPayment(req) {
      // An unknown order is voided by a tombstone, so a late authorization is refused; if an
      // authorization lands first, the tombstone loses and that payment is voided instead.
      const payment =
        (await apply("void", req.orderId)) ??
        (await payments.createFirst(voidTombstone(randomUUID(), req.orderId))) ??
        (await apply("void", req.orderId));
      if (!payment) throw errors.internal();
      return { payment: toPaymentMessage(payment) };
    },

    async refundPayment(req) {
      const payment = await apply("refund", req.orderId);
      if (!payment) throw paymentNotFound(req.orderId);
      return { payment: toPaymentMessage(payment) };
    },

    async getPayment(req) {
      const payment = await payments.findByOrder(req.orderId);
      if (!payment) throw paymentNotFound(req.orderId);
      return { payment: toPaymentMessage(payment) };
    },
  };
}
