import type { DescMessage } from "@bufbuild/protobuf";

/** `shop.orders.v1.OrderConfirmed` -> `shop.orders.order_confirmed`: one stream per context (docs/architecture.md). */
export function eventSubject(schema: DescMessage): string {
  const [root, context, , ...rest] = schema.typeName.split(".");
  const event = rest
    .join("_")
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase();
  return `${root}.${context}.${event}`;
}

/** The bounded context that publishes a subject: `shop.orders.order_confirmed` -> `orders`. */
export function contextOfSubject(subject: string): string {
  return subject.split(".")[1] ?? "";
}

/** One JetStream stream per context: `SHOP_ORDERS` holds `shop.orders.>`. */
export function streamName(context: string): string {
  return `SHOP_${context.toUpperCase()}`;
}

export const deadLetterStream = "SHOP_DEAD_LETTERS";
export const deadLetterSubject = (consumer: string) => `shop.dead_letter.${consumer}`;

/** NATS headers every shop event carries. */
export const eventHeaders = {
  messageId: "Nats-Msg-Id",
  type: "Shop-Event-Type",
  occurredAt: "Shop-Occurred-At",
  contentType: "Content-Type",
} as const;

export const eventContentType = "application/protobuf";

/** Headers a dead letter carries besides the original message's own. */
export const deadLetterHeaders = {
  consumer: "Shop-Dead-Letter-Consumer",
  subject: "Shop-Dead-Letter-Subject",
  stream: "Shop-Dead-Letter-Stream",
  sequence: "Shop-Dead-Letter-Sequence",
  eventId: "Shop-Dead-Letter-Event-Id",
  deliveries: "Shop-Dead-Letter-Deliveries",
  error: "Shop-Dead-Letter-Error",
} as const;
