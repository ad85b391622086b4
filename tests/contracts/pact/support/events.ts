import { randomUUID } from "node:crypto";
import { type DescMessage, fromJson, type JsonValue, type MessageShape, toJson } from "@bufbuild/protobuf";
import { type ConcreteMessage, MessageConsumerPact } from "@pact-foundation/pact";
import { createSqlDatabase, type EventHandlers, eventSubject, type SqlDatabase } from "@shop/runtime";
import { outboxEvents, waitFor } from "@shop/runtime/testing";
import { pactDir } from "./pacts.js";

/** A consumer's message pact with `provider`, written to `dir` when its tests pass. */
export const messageConsumerPact = (consumer: string, provider: string, dir: string = pactDir) =>
  new MessageConsumerPact({ consumer, provider, dir, logLevel: "error" });

/**
 * What a consumer relies on besides the payload: the Protobuf type that selects its handler
 * and the subject it arrives on.
 */
export const eventMetadata = (schema: DescMessage) => ({ type: schema.typeName, subject: eventSubject(schema) });

/**
 * Hands a pact message to a consumer's real event handlers as its event consumer would: the
 * handler chosen by the event type, the payload decoded with that type's schema (unknown
 * fields ignored, as binary decoding does), applied in one transaction of the consumer's
 * database.
 */
export async function deliver(message: ConcreteMessage, handlers: EventHandlers, db: SqlDatabase): Promise<void> {
  const type = String(message.metadata?.type ?? "");
  const handler = handlers[type];
  if (!handler) throw new Error(`the consumer has no handler for events of type "${type}"`);
  const event = fromJson(handler.schema, message.contents as JsonValue, { ignoreUnknownFields: true });
  const meta = { eventId: randomUUID(), type, subject: String(message.metadata?.subject ?? ""), streamSequence: 1, deliveryCount: 1 };
  await db.transaction((tx) => handler.handle(event, tx, meta));
}

/** A message as a provider hands it to Pact's verifier: payload and metadata. */
export interface ProducedMessage {
  __pactMessageMetadata: Record<string, string>;
  message: JsonValue;
}

/**
 * The event a provider's own code wrote to its outbox, as consumers receive it: the row's
 * Protobuf payload in canonical JSON, with the type and subject the row carries. Waits for
 * the first event of `schema` that `matches`.
 */
export async function eventFromOutbox<S extends DescMessage>(
  databaseUrl: string,
  schema: S,
  matches: (event: MessageShape<S>) => boolean,
): Promise<ProducedMessage> {
  const db = createSqlDatabase(databaseUrl, { poolSize: 1 });
  try {
    const found = await waitFor(
      async () => (await outboxEvents(db)).find((row) => row.type === schema.typeName && matches(row.payload as MessageShape<S>)),
      (row) => row !== undefined,
      { what: `a matching ${schema.typeName} in the outbox` },
    );
    return {
      __pactMessageMetadata: { type: found!.type, subject: found!.subject },
      message: toJson(schema, found!.payload as MessageShape<S>),
    };
  } finally {
    await db.close();
  }
}
