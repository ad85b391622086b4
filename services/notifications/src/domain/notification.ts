/** Money in integer minor units, as events carry it. */
export interface Money {
  currencyCode: string;
  amountMinor: bigint;
}

/** The events a user hears about, reduced to what the messages need. */
export type NotifiableEvent =
  | { kind: "order_confirmed"; orderId: string; userId: string; total?: Money }
  | { kind: "order_cancelled"; orderId: string; userId: string; reason: string }
  | { kind: "shipment_created"; orderId: string; userId: string; trackingNumber: string }
  | { kind: "payment_refunded"; orderId: string; userId: string; amount?: Money };

export type NotificationKind = NotifiableEvent["kind"];

/** A message to one user, composed from one event. */
export interface NotificationDraft {
  kind: NotificationKind;
  userId: string;
  orderId: string;
  subject: string;
  body: string;
}

/** A notification as stored. */
export interface Notification extends NotificationDraft {
  id: string;
  createdAt: Date;
}

const cancellationReasons: Record<string, string> = {
  PAYMENT_DECLINED: "your payment was declined",
  PAYMENT_FAILED: "we could not process your payment",
  INSUFFICIENT_STOCK: "an item is out of stock",
  PRODUCT_UNAVAILABLE: "an item is no longer available",
  SHIPPING_FAILED: "we could not arrange shipping",
  CUSTOMER_REQUESTED: "you asked us to cancel it",
};

/** Why an order was cancelled, in words a customer understands; undefined when we cannot say. */
export function cancellationReasonInWords(reason: string): string | undefined {
  return Object.hasOwn(cancellationReasons, reason) ? cancellationReasons[reason] : undefined;
}

/**
 * `{USD, 1999}` -> `$19.99`. The amount goes to Intl as a decimal string, so large amounts
 * keep every digit; a currency Intl cannot name is shown as minor units with its code.
 */
export function formatMoney({ currencyCode, amountMinor }: Money): string {
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat("en-US", { style: "currency", currency: currencyCode });
  } catch {
    return `${amountMinor} ${currencyCode} (minor units)`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const negative = amountMinor < 0n;
  const magnitude = (negative ? -amountMinor : amountMinor).toString().padStart(digits + 1, "0");
  const decimal = digits === 0 ? magnitude : `${magnitude.slice(0, -digits)}.${magnitude.slice(-digits)}`;
  return format.format(`${negative ? "-" : ""}${decimal}` as Intl.StringNumericLiteral);
}

function message(event: NotifiableEvent): Pick<NotificationDraft, "subject" | "body"> {
  switch (event.kind) {
    case "order_confirmed":
      return {
        subject: "Your order is confirmed",
        body: event.total
          ? `Thank you! Order ${event.orderId} is confirmed. Total: ${formatMoney(event.total)}.`
          : `Thank you! Order ${event.orderId} is confirmed.`,
      };
    case "order_cancelled": {
      const why = cancellationReasonInWords(event.reason);
      return {
        subject: "Your order was cancelled",
        body: why ? `Order ${event.orderId} was cancelled because ${why}.` : `Order ${event.orderId} was cancelled.`,
      };
    }
    case "shipment_created":
      return {
        subject: "Your order is being prepared for shipping",
        body: `Order ${event.orderId} has a shipment. Tracking number: ${event.trackingNumber}.`,
      };
    case "payment_refunded":
      return {
        subject: "Your payment was refunded",
        body: event.amount
          ? `We refunded ${formatMoney(event.amount)} for order ${event.orderId}.`
          : `We refunded your payment for order ${event.orderId}.`,
      };
  }
}

/** The one notification an event gives its user. */
export function composeNotification(event: NotifiableEvent): NotificationDraft {
  return { kind: event.kind, userId: event.userId, orderId: event.orderId, ...message(event) };
}
