import type { Message, MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type PaymentAuthorized,
  PaymentAuthorizedSchema,
  type PaymentCaptured,
  PaymentCapturedSchema,
  type PaymentCause as PaymentCauseMessage,
  type PaymentCauseSchema,
  type PaymentDeclined,
  PaymentDeclinedSchema,
  type PaymentRefunded,
  PaymentRefundedSchema,
  type PaymentVoided,
  PaymentVoidedSchema,
} from "@shop/contracts/shop/payments/v1/events_pb.js";
import { type OutboxEntry, outboxEntry } from "@shop/runtime";
import type { Money, PaymentCause, PaymentEvent, PaymentStatus } from "../domain/payment.js";

/** The published message of each event type; every status a payment enters has one. */
export const paymentEventSchemas = {
  AUTHORIZED: PaymentAuthorizedSchema,
  DECLINED: PaymentDeclinedSchema,
  CAPTURED: PaymentCapturedSchema,
  VOIDED: PaymentVoidedSchema,
  REFUNDED: PaymentRefundedSchema,
} as const;

const typeOfSchema = new Map<string, PaymentStatus>(
  Object.entries(paymentEventSchemas).map(([type, schema]) => [schema.typeName, type as PaymentStatus]),
);

const moneyMessage = (amount: Money | null) => (amount ? { currencyCode: amount.currency, amountMinor: amount.amountMinor } : undefined);

const causeMessage = (cause: PaymentCause | undefined): MessageInitShape<typeof PaymentCauseSchema> | undefined =>
  cause && {
    command: cause.command,
    userId: cause.userId ?? "",
    role: cause.role ?? "",
    service: cause.service ?? "",
    correlationId: cause.correlationId ?? "",
  };

function causeOf(message: PaymentCauseMessage | undefined): PaymentCause | undefined {
  if (!message?.command) return undefined;
  return {
    command: message.command as PaymentCause["command"],
    ...(message.userId ? { userId: message.userId } : {}),
    ...(message.role ? { role: message.role } : {}),
    ...(message.service ? { service: message.service } : {}),
    ...(message.correlationId ? { correlationId: message.correlationId } : {}),
  };
}

/** A payment event as the outbox row of its stream: the message published for it. */
export function paymentEventEntry(event: PaymentEvent): OutboxEntry {
  const common = {
    paymentId: event.paymentId,
    orderId: event.orderId,
    userId: event.userId ?? "",
    amount: moneyMessage(event.amount),
    occurTime: timestampFromDate(event.occurredAt),
    providerReference: event.providerReference,
    cause: causeMessage(event.cause),
  };
  switch (event.type) {
    case "AUTHORIZED":
      return outboxEntry(PaymentAuthorizedSchema, common);
    case "DECLINED":
      return outboxEntry(PaymentDeclinedSchema, { ...common, reason: event.reason });
    case "CAPTURED":
      return outboxEntry(PaymentCapturedSchema, common);
    case "VOIDED":
      return outboxEntry(PaymentVoidedSchema, common);
    case "REFUNDED":
      return outboxEntry(PaymentRefundedSchema, common);
  }
}

type PaymentMessage = PaymentAuthorized | PaymentDeclined | PaymentCaptured | PaymentVoided | PaymentRefunded;

/** The payment event a stored message records. */
export function paymentEventOf(message: Message): PaymentEvent {
  const type = typeOfSchema.get(message.$typeName);
  if (!type) throw new Error(`${message.$typeName} is not a payment event`);
  const event = message as PaymentMessage;
  if (!event.occurTime) throw new Error(`${message.$typeName} of order ${event.orderId} has no occur time`);
  return {
    type,
    paymentId: event.paymentId,
    orderId: event.orderId,
    userId: event.userId || null,
    amount: event.amount ? { currency: event.amount.currencyCode, amountMinor: event.amount.amountMinor } : null,
    reason: event.$typeName === PaymentDeclinedSchema.typeName ? event.reason : "",
    providerReference: event.providerReference,
    cause: causeOf(event.cause),
    occurredAt: timestampDate(event.occurTime),
  };
}
