import { createRegistry, fromBinary } from "@bufbuild/protobuf";
import { shopFiles } from "@shop/contracts";
import { outboxTable } from "../events/outbox.js";
import type { Sql } from "../sql.js";

const registry = createRegistry(...shopFiles);

export interface DecodedOutboxEvent {
  id: string;
  subject: string;
  type: string;
  payload: Record<string, unknown>;
}

/** A service's outbox rows, oldest first, with payloads decoded by their event type. */
export async function outboxEvents(db: Sql): Promise<DecodedOutboxEvent[]> {
  const rows = await db.query<{ id: string; subject: string; type: string; payload: Uint8Array }>(
    `SELECT id::text, subject, type, payload FROM ${outboxTable} ORDER BY created_at, id`,
  );
  return rows.map((row) => {
    const schema = registry.getMessage(row.type);
    if (!schema) throw new Error(`outbox row ${row.id} has an unknown event type ${row.type}`);
    return {
      id: row.id,
      subject: row.subject,
      type: row.type,
      payload: fromBinary(schema, row.payload) as unknown as Record<string, unknown>,
    };
  });
}
