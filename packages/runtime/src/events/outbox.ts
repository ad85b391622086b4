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

export interface EnqueuedEvent {
  id: string;
  subject: string;
}

/**
 * Writes a domain event to the outbox inside `tx`. The relay publishes it later with the
 * event id as JetStream message id; the correlation id and trace context of the current
 * work travel with it as headers. `tx` is the transaction of the state change, so the event
 * commits or rolls back with it. Call the relay's `notify()` after the transaction commits
 * to publish at once. A given `id` must be a UUID; generated ids keep creation order.
 */
export async function enqueueEvent<S extends DescMessage>(
  tx: Sql,
  schema: S,
  message: MessageInitShape<S>,
  options: { id?: string } = {},
): Promise<EnqueuedEvent> {
  const id = options.id ?? newEventId();
  const subject = eventSubject(schema);
  const payload = Buffer.from(toBinary(schema, create(schema, message)));
  const context = currentContext();
  const headers = { ...propagationHeaders(context), ...(context?.idempotencyKey ? { "idempotency-key": context.idempotencyKey } : {}) };
  await tx.execute(`INSERT INTO ${outboxTable} (id, subject, type, payload, headers) VALUES ($1::uuid, $2, $3, $4, $5::jsonb)`, [
    id,
    subject,
    schema.typeName,
    payload,
    JSON.stringify(headers),
  ]);
  return { id, subject };
}
