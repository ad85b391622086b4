import { simulatedProviderReference } from "./provider.js";

export type PaymentStatus = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED" | "DECLINED";

export interface Money {
  currency: string;
  amountMinor: bigint;
}

/**
 * The one payment of an order, amounts in integer minor units: the fold of its events. A void
 * tombstone (an order voided before any authorization) has no user and no amount.
 */
export interface Payment {
  id: string;
  orderId: string;
  userId: string | null;
  status: PaymentStatus;
  currency: string | null;
  amountMinor: bigint | null;
  declineReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type PaymentCommand = "AuthorizePayment" | "CapturePayment" | "VoidPayment" | "RefundPayment";

/** Who or what made an event happen. */
export interface PaymentCause {
  /** The command called, or "migration" for an event recorded from the state kept before the ledger. */
  command: PaymentCommand | "migration";
  /** The end user who made the call, when it was one. */
  userId?: string;
  role?: string;
  /** The service that called with its own credential. */
  service?: string;
  correlationId?: string;
}

/**
 * What happened to a payment. Each event names the status the payment enters, and carries the
 * payment's identity, so that each one read alone (as consumers of the published event do)
 * says whose money moved. Events recorded before the ledger have no cause or reference.
 */
export interface PaymentEvent {
  type: PaymentStatus;
  paymentId: string;
  orderId: string;
  userId: string | null;
  /** Authorized, captured, released or refunded; for a decline, asked for. None for a tombstone. */
  amount: Money | null;
  /** The provider's reason for a decline; empty otherwise. */
  reason: string;
  providerReference: string;
  cause?: PaymentCause;
  occurredAt: Date;
}

/** A stored event that cannot follow the payment's state: the stream is not a payment's. */
export class InvalidPaymentEvent extends Error {
  override name = "InvalidPaymentEvent";
}

/** Which event may follow which status; `null` stands for a payment with no event yet. */
const follows: Record<PaymentStatus, (PaymentStatus | null)[]> = {
  AUTHORIZED: [null],
  DECLINED: [null],
  CAPTURED: ["AUTHORIZED"],
  // Before any authorization: a tombstone that bars a late one.
  VOIDED: [null, "AUTHORIZED"],
  REFUNDED: ["CAPTURED"],
};

/** The payment after `event`. */
export function evolve(payment: Payment | null, event: PaymentEvent): Payment {
  if (!follows[event.type].includes(payment?.status ?? null)) {
    throw new InvalidPaymentEvent(
      `a ${event.type} event cannot follow ${payment ? `a ${payment.status} payment` : "no event"} (payment of order ${event.orderId})`,
    );
  }
  if (payment) return { ...payment, status: event.type, updatedAt: event.occurredAt };
  const opening = event.type !== "VOIDED";
  if (opening && (event.userId === null || event.amount === null)) {
    throw new InvalidPaymentEvent(`a ${event.type} event without a user or amount cannot open the payment of order ${event.orderId}`);
  }
  return {
    id: event.paymentId,
    orderId: event.orderId,
    userId: opening ? event.userId : null,
    status: event.type,
    currency: opening ? event.amount!.currency : null,
    amountMinor: opening ? event.amount!.amountMinor : null,
    declineReason: event.type === "DECLINED" ? event.reason : null,
    createdAt: event.occurredAt,
    updatedAt: event.occurredAt,
  };
}

/** The payment its events make; null for none. */
export const foldPayment = (events: readonly PaymentEvent[]): Payment | null => events.reduce<Payment | null>(evolve, null);

/** How many of a stream's events had occurred by `asOf`: the longest run from the first. */
export function eventsUntil(events: readonly PaymentEvent[], asOf: Date): number {
  const later = events.findIndex((event) => event.occurredAt > asOf);
  return later === -1 ? events.length : later;
}

/** What a command makes of the payment as it stands. */
export type Decision =
  | { kind: "append"; event: PaymentEvent }
  /** Already done, or nothing to do: the payment is the answer. */
  | { kind: "unchanged"; payment: Payment }
  | { kind: "refused"; reason: string }
  | { kind: "notFound" };

/** Facts of a command that the payment does not hold: when, why, and for a tombstone its id. */
export interface CommandContext {
  occurredAt: Date;
  cause: PaymentCause;
  /** The id a tombstone gets if the command makes one. */
  newPaymentId: string;
}

/**
 * Before asking the provider: the stored payment answers a repeated authorization, except a
 * tombstone, which refuses it; with none, the provider is asked.
 */
export function authorizationOf(payment: Payment | null): Decision | { kind: "askProvider" } {
  if (!payment) return { kind: "askProvider" };
  if (payment.status === "VOIDED") return { kind: "refused", reason: `payment for order ${payment.orderId} was voided` };
  return { kind: "unchanged", payment };
}

export interface AuthorizationRequest {
  orderId: string;
  userId: string;
  amount: Money;
}

/** The event of the provider's answer to a first authorization. */
export function authorizationEvent(
  request: AuthorizationRequest,
  answer: { outcome: "approved" } | { outcome: "declined"; reason: string },
  context: CommandContext,
): PaymentEvent {
  const paymentId = context.newPaymentId;
  return {
    type: answer.outcome === "approved" ? "AUTHORIZED" : "DECLINED",
    paymentId,
    orderId: request.orderId,
    userId: request.userId,
    amount: request.amount,
    reason: answer.outcome === "declined" ? answer.reason : "",
    providerReference: simulatedProviderReference("authorization", paymentId),
    cause: context.cause,
    occurredAt: context.occurredAt,
  };
}

export type PaymentOperation = "capture" | "void" | "refund";

interface Transition {
  from: PaymentStatus;
  to: PaymentStatus;
  /** Statuses in which a repeat of the operation returns the payment unchanged. */
  settledIn: readonly PaymentStatus[];
}

const transitions: Record<PaymentOperation, Transition> = {
  capture: { from: "AUTHORIZED", to: "CAPTURED", settledIn: ["CAPTURED"] },
  // A declined payment holds no money: there is nothing to void.
  void: { from: "AUTHORIZED", to: "VOIDED", settledIn: ["VOIDED", "DECLINED"] },
  refund: { from: "CAPTURED", to: "REFUNDED", settledIn: ["REFUNDED"] },
};

const pastTense: Record<PaymentOperation, string> = { capture: "captured", void: "voided", refund: "refunded" };

/**
 * Capture, void or refund, decided on the payment's state: the event that moves it, the payment
 * unchanged when the operation already happened, or a refusal. A void of an order with no
 * payment records a tombstone, so that a late authorization is refused.
 */
export function decide(operation: PaymentOperation, orderId: string, payment: Payment | null, context: CommandContext): Decision {
  const { from, to, settledIn } = transitions[operation];
  if (!payment) {
    if (operation !== "void") return { kind: "notFound" };
    return {
      kind: "append",
      event: {
        type: "VOIDED",
        paymentId: context.newPaymentId,
        orderId,
        userId: null,
        amount: null,
        reason: "",
        providerReference: "",
        cause: context.cause,
        occurredAt: context.occurredAt,
      },
    };
  }
  if (settledIn.includes(payment.status)) return { kind: "unchanged", payment };
  if (payment.status === from) {
    const amount =
      payment.currency !== null && payment.amountMinor !== null ? { currency: payment.currency, amountMinor: payment.amountMinor } : null;
    return {
      kind: "append",
      event: {
        type: to,
        paymentId: payment.id,
        orderId: payment.orderId,
        userId: payment.userId,
        amount,
        reason: "",
        providerReference: simulatedProviderReference(operation, payment.id),
        cause: context.cause,
        occurredAt: context.occurredAt,
      },
    };
  }
  const subject = `payment for order ${payment.orderId} is ${payment.status}`;
  if (operation === "void" && payment.status === "CAPTURED") return { kind: "refused", reason: `${subject}: refund it instead` };
  return { kind: "refused", reason: `${subject}: only ${from} payments can be ${pastTense[operation]}` };
}
