export type PaymentStatus = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED" | "DECLINED";

/**
 * The one payment of an order, amounts in integer minor units. A void tombstone (an order
 * voided before any authorization) has no user and no amount.
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

export type NewPayment = Pick<Payment, "id" | "orderId" | "userId" | "status" | "currency" | "amountMinor" | "declineReason">;

export function voidTombstone(id: string, orderId: string): NewPayment {
  return { id, orderId, userId: null, status: "VOIDED", currency: null, amountMinor: null, declineReason: null };
}

/** Why an authorization for an order that already has `payment` is refused; undefined when the stored payment is the answer. */
export function authorizationRefusal(payment: Payment): string | undefined {
  return payment.status === "VOIDED" ? `payment for order ${payment.orderId} was voided` : undefined;
}

export type PaymentOperation = "capture" | "void" | "refund";

export interface Transition {
  from: PaymentStatus;
  to: PaymentStatus;
  /** Statuses in which a repeat of the operation returns the payment unchanged. */
  settledIn: readonly PaymentStatus[];
}

export const transitions: Record<PaymentOperation, Transition> = {
  capture: { from: "AUTHORIZED", to: "CAPTURED", settledIn: ["CAPTURED"] },
  // A declined payment holds no money: there is nothing to void.
  void: { from: "AUTHORIZED", to: "VOIDED", settledIn: ["VOIDED", "DECLINED"] },
  refund: { from: "CAPTURED", to: "REFUNDED", settledIn: ["REFUNDED"] },
};

/** Why `operation` cannot apply to `payment`; undefined when it can or already did. */
export function operationRefusal(operation: PaymentOperation, payment: Payment): string | undefined {
  const { from, settledIn } = transitions[operation];
  if (payment.status === from || settledIn.includes(payment.status)) return undefined;
  const subject = `payment for order ${payment.orderId} is ${payment.status}`;
  if (operation === "void" && payment.status === "CAPTURED") return `${subject}: refund it instead`;
  return `${subject}: only ${from} payments can be ${pastTense[operation]}`;
}

const pastTense: Record<PaymentOperation, string> = { capture: "captured", void: "voided", refund: "refunded" };
