import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { currentContext, propagationHeaders } from "../request-context.js";
import type { Sql } from "../sql.js";
import { newEventId } from "./event-id.js";
import { eventSubject } from "./subjects.js";

/**
 * The table every event-publishing service has in its own database (copy this model into
 * its schema.prisma):
 *
 *   model OutboxEvent {
 *     id        String    @id @db.Uuid
 *     subject   String
 *     type      String
 *     payload   Bytes
 *     headers   Json      @default("{}")
 *     createdAt DateTime  @default(now()) @map("created_at") @db.Timestamptz(3)
 *     sentAt    DateTime? @map("sent_at") @db.Timestamptz(3)
 *     @@index([sentAt, createdAt])
 *     @@map("outbox_events")
 *   }
 */
export const outboxTable = "outbox_events";

/**
 * The outbox relays running in this process, woken when a transaction that enqueued events
 * commits. A service process runs one, on its own database; where several share a process
 * (tests), waking one whose table has nothing new costs it one empty look.
 */
const relayWakers = new Set<() => void>();

function wakeRelays(): void {
  for (const wake of relayWakers) wake();
}

/** Calls `wake` after every commit of enqueued events in this process, until the returned function is called. */
export function onEventsCommitted(wake: () => void): () => void {
  relayWakers.add(wake);
  return () => relayWakers.delete(wake);
}

export interface EnqueuedEvent {
  id: string;
  subject: string;
}

/** An event encoded for the outbox, not yet written. */
export interface OutboxEntry {
  id: string;
  subject: string;
  type: string;
  payload: Buffer;
}

/** Encodes an event of `schema` for `enqueueEvents`. A given `id` must be a UUID; generated ids keep creation order. */
export function outboxEntry<S extends DescMessage>(schema: S, message: MessageInitShape<S>, options: { id?: string } = {}): OutboxEntry {
  return {
    id: options.id ?? newEventId(),
    subject: eventSubject(schema),
    type: schema.typeName,
    payload: Buffer.from(toBinary(schema, create(schema, message))),
  };
}

/**
 * Writes domain events to the outbox inside `tx`, in one statement. The relay publishes them
 * later, in order, with each event id as JetStream message id; the correlation id and trace
 * context of the current work travel with them as headers. `tx` is the transaction of the
 * state change, so the events commit or roll back with it; once it commits, the relays of this
 * process are woken to publish them at once.
 */
export async function enqueueEvents(tx: Sql, entries: readonly OutboxEntry[]): Promise<EnqueuedEvent[]> {
  if (entries.length === 0) return [];
  const context = currentContext();
  const headers = { ...propagationHeaders(context), ...(context?.idempotencyKey ? { "idempotency-key": context.idempotencyKey } : {}) };
  await tx.execute(
    `INSERT INTO ${outboxTable} (id, subject, type, payload, headers)
     SELECT event.id, event.subject, event.type, event.payload, $5::jsonb
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[]) AS event(id, subject, type, payload)`,
    [entries.map((e) => e.id), entries.map((e) => e.subject), entries.map((e) => e.type), entries.map((e) => e.payload), JSON.stringify(headers)],
  );
  tx.afterCommit(wakeRelays);
  return entries.map(({ id, subject }) => ({ id, subject }));
}

/** `enqueueEvents` for one event of `schema`. */
export async function enqueueEvent<S extends DescMessage>(
  tx: Sql,
  schema: S,
  message: MessageInitShape<S>,
  options: { id?: string } = {},
): Promise<EnqueuedEvent> {
  const [enqueued] = await enqueueEvents(tx, [outboxEntry(schema, message, options)]);
  return enqueued!;
}
