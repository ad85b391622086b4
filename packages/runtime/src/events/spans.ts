import type { Attributes } from "@opentelemetry/api";

/** What a messaging span does with a message, its `messaging.operation.type`. */
export type MessagingOperation = "create" | "send" | "process";

/** NATS's own name of each operation, which also starts the span's name. */
const operationNames: Record<MessagingOperation, string> = { create: "create", send: "publish", process: "process" };

export interface MessagingSpanShape {
  name: string;
  attributes: Attributes;
}

/**
 * Names and attributes of one kind of messaging span, made once per destination (a subject or
 * a stream, a handful per process) so that a span costs no string or object of its own.
 */
export function messagingSpans(operation: MessagingOperation, constant: Attributes = {}): (destination: string) => MessagingSpanShape {
  const shapes = new Map<string, MessagingSpanShape>();
  return (destination) => {
    let shape = shapes.get(destination);
    if (!shape) {
      shape = {
        name: `${operationNames[operation]} ${destination}`,
        attributes: {
          "messaging.system": "nats",
          "messaging.operation.type": operation,
          "messaging.operation.name": operationNames[operation],
          "messaging.destination.name": destination,
          ...constant,
        },
      };
      shapes.set(destination, shape);
    }
    return shape;
  };
}

/** The subject all of `items` share, else undefined. */
export function commonSubject<T>(items: readonly T[], subjectOf: (item: T) => string): string | undefined {
  const first = items[0] && subjectOf(items[0]);
  for (const item of items) if (subjectOf(item) !== first) return undefined;
  return first;
}
