import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsRegistry } from "../metrics.js";
import { pruneEventRows } from "./retention.js";
import { createScratchDatabase, type ScratchDatabase } from "./test-support.js";

const day = 86_400_000;

describe("event retention", () => {
  let plain: ScratchDatabase;
  let ledger: ScratchDatabase;

  beforeAll(async () => {
    [plain, ledger] = await Promise.all([createScratchDatabase(), createScratchDatabase({ streams: true })]);
  });
  afterAll(async () => {
    await Promise.all([plain?.drop(), ledger?.drop()]);
  });

  const outboxRow = (scratch: ScratchDatabase, sentDaysAgo: number | null, stream?: string) =>
    scratch.db.execute(
      `INSERT INTO outbox_events (id, subject, type, payload, sent_at${stream ? ", stream_id, stream_version" : ""})
       VALUES ($1::uuid, 'shop.test.x', 'x', '\\x00', CASE WHEN $2::int IS NULL THEN NULL ELSE now() - $2::int * interval '1 day' END${stream ? ", $3, 1" : ""})`,
      stream ? [randomUUID(), sentDaysAgo, stream] : [randomUUID(), sentDaysAgo],
    );
  const count = async (scratch: ScratchDatabase, table: string) =>
    Number((await scratch.db.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n);
  const prunedMetric = async (table: string) =>
    (await metricsRegistry.getSingleMetric("event_rows_pruned_total")!.get()).values.find((v) => v.labels.table === table)?.value ?? 0;

  it("deletes sent outbox rows and processed inbox rows past their retention, in batches; keeps unsent and recent rows", async () => {
    for (let i = 0; i < 7; i++) await outboxRow(plain, 3);
    await outboxRow(plain, 0);
    await outboxRow(plain, null);
    await plain.db.execute(
      `INSERT INTO inbox_events (consumer, event_id, processed_at)
       SELECT 'c', gen_random_uuid(), now() - interval '10 days' FROM generate_series(1, 4)
       UNION ALL SELECT 'c', gen_random_uuid(), now()`,
    );
    const before = await prunedMetric("outbox_events");

    const deleted = await pruneEventRows(plain.db, { outboxMs: day, inboxMs: 8 * day, intervalMs: 60_000, batchSize: 3 });

    expect(deleted).toEqual({ outbox_events: 7, inbox_events: 4 });
    expect(await count(plain, "outbox_events")).toBe(2);
    expect(await count(plain, "inbox_events")).toBe(1);
    expect(await prunedMetric("outbox_events")).toBe(before + 7);
  });

  it("never deletes the rows of event streams: they are the service's data", async () => {
    await outboxRow(ledger, 30, "payment-1");
    await outboxRow(ledger, 30);
    expect(await pruneEventRows(ledger.db, { outboxMs: day, inboxMs: day, intervalMs: 60_000 })).toEqual({
      outbox_events: 1,
      inbox_events: 0,
    });
    expect(await ledger.db.query(`SELECT stream_id FROM outbox_events`)).toEqual([{ stream_id: "payment-1" }]);
  });
});
