import { randomUUID } from "node:crypto";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import {
  PaymentAuthorizedSchema,
  PaymentCapturedSchema,
  PaymentDeclinedSchema,
  PaymentRefundedSchema,
  PaymentVoidedSchema,
} from "@shop/contracts/shop/payments/v1/events_pb.js";
import { PaymentEventType, PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import {
  createServiceClient,
  createSqlDatabase,
  dropDatabase,
  enqueueEvent,
  ensureDatabase,
  migrateDatabase,
  type RunningService,
  type Sql,
  type SqlDatabase,
  startService,
} from "@shop/runtime";
import { adminHeaders, credentialsEnv, serviceCredential, waitFor } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPaymentsConfig } from "./config.js";
import { PaymentLedger } from "./db/payments.js";
import { buildPayments } from "./server.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const initMigration = "20261122000000_init";

type LegacyStatus = "AUTHORIZED" | "CAPTURED" | "VOIDED" | "REFUNDED" | "DECLINED";

/** A payment as the payments table held it before the ledger. */
interface LegacyPayment {
  id: string;
  orderId: string;
  userId: string | null;
  status: LegacyStatus;
  currency: string | null;
  amountMinor: bigint | null;
  declineReason: string | null;
  createdAt: Date;
  updatedAt: Date;
}

const at = (minute: number) => new Date(Date.UTC(2026, 10, 23, 12, minute, 7, 123 + minute));

/** Writes an event as the payments service did before the ledger: an outbox row at `when`, sent unless told otherwise. */
async function legacyEvent(
  tx: Sql,
  payment: LegacyPayment,
  type: LegacyStatus,
  when: Date,
  { sent = true }: { sent?: boolean } = {},
): Promise<string> {
  const base = { paymentId: payment.id, orderId: payment.orderId, userId: payment.userId ?? "", occurTime: timestampFromDate(when) };
  const amount = { currencyCode: payment.currency!, amountMinor: payment.amountMinor! };
  const event =
    type === "AUTHORIZED"
      ? await enqueueEvent(tx, PaymentAuthorizedSchema, { ...base, amount })
      : type === "CAPTURED"
        ? await enqueueEvent(tx, PaymentCapturedSchema, { ...base, amount })
        : type === "VOIDED"
          ? await enqueueEvent(tx, PaymentVoidedSchema, base)
          : type === "REFUNDED"
            ? await enqueueEvent(tx, PaymentRefundedSchema, { ...base, amount })
            : await enqueueEvent(tx, PaymentDeclinedSchema, { ...base, reason: payment.declineReason! });
  await tx.execute("UPDATE outbox_events SET created_at = $2, sent_at = $3 WHERE id = $1", [event.id, when, sent ? when : null]);
  return event.id;
}

function legacyPayment(status: LegacyStatus, minutes: number[], overrides: Partial<LegacyPayment> = {}): LegacyPayment {
  return {
    id: randomUUID(),
    orderId: randomUUID(),
    userId: randomUUID(),
    status,
    currency: "USD",
    amountMinor: 2598n,
    declineReason: status === "DECLINED" ? "CARD_DECLINED" : null,
    createdAt: at(minutes[0]!),
    updatedAt: at(minutes[minutes.length - 1]!),
    ...overrides,
  };
}

const pathTo: Record<LegacyStatus, LegacyStatus[]> = {
  AUTHORIZED: ["AUTHORIZED"],
  CAPTURED: ["AUTHORIZED", "CAPTURED"],
  VOIDED: ["AUTHORIZED", "VOIDED"],
  REFUNDED: ["AUTHORIZED", "CAPTURED", "REFUNDED"],
  DECLINED: ["DECLINED"],
};

// Payments in every state the old service could leave them in.
const authorized = legacyPayment("AUTHORIZED", [1]);
const captured = legacyPayment("CAPTURED", [2, 3]);
const voided = legacyPayment("VOIDED", [4, 5], { amountMinor: 0n });
const refunded = legacyPayment("REFUNDED", [6, 7, 8]);
const declined = legacyPayment("DECLINED", [9]);
const overLimit = legacyPayment("DECLINED", [10], { declineReason: "AMOUNT_LIMIT_EXCEEDED", amountMinor: 5_000_000n, currency: "EUR" });
const tombstone = legacyPayment("VOIDED", [11], { userId: null, currency: null, amountMinor: null });
// Outbox rows deleted after publishing: all of them, or the first with the last not yet sent.
const pruned = legacyPayment("REFUNDED", [12, 13, 14]);
const halfPruned = legacyPayment("CAPTURED", [15, 16]);
// The last event of a payment not published yet when the migration runs.
const unsent = legacyPayment("CAPTURED", [17, 18]);
const all = [authorized, captured, voided, refunded, declined, overLimit, tombstone, pruned, halfPruned, unsent];

let url: string;
let db: SqlDatabase;
let service: RunningService;
let client: ReturnType<typeof createServiceClient<typeof PaymentService>>;
const legacyEventIds = new Map<string, string[]>();

beforeAll(async () => {
  url = new URL(
    `/shop_test_payments_ledger_${randomUUID().slice(0, 8)}`,
    process.env.POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432",
  ).toString();
  await ensureDatabase(url);
  // The schema before the ledger: only the first migration.
  const before = await mkdtemp(path.join(tmpdir(), "payments-before-ledger-"));
  try {
    await cp(path.join(serviceDir, "prisma", "migrations", initMigration), path.join(before, "prisma", "migrations", initMigration), {
      recursive: true,
    });
    await migrateDatabase(before, url);
  } finally {
    await rm(before, { recursive: true, force: true });
  }
  db = createSqlDatabase(url, { poolSize: 2 });
  await db.transaction(async (tx) => {
    for (const payment of all) {
      await tx.execute(
        `INSERT INTO payments (id, order_id, user_id, status, currency, amount_minor, decline_reason, created_at, updated_at)
         VALUES ($1, $2, $3, $4::payment_status, $5, $6, $7, $8, $9)`,
        [
          payment.id,
          payment.orderId,
          payment.userId,
          payment.status,
          payment.currency,
          payment.amountMinor,
          payment.declineReason,
          payment.createdAt,
          payment.updatedAt,
        ],
      );
      if (payment === tombstone) continue;
      const steps = pathTo[payment.status];
      const ids: string[] = [];
      for (const [index, type] of steps.entries()) {
        const when = index === 0 ? payment.createdAt : index === steps.length - 1 ? payment.updatedAt : at(7);
        ids.push(await legacyEvent(tx, payment, type, when, { sent: !(payment === unsent || payment === halfPruned) || index === 0 }));
      }
      legacyEventIds.set(payment.orderId, ids);
    }
    await tx.execute("DELETE FROM outbox_events WHERE id = ANY($1::uuid[])", [
      [...legacyEventIds.get(pruned.orderId)!, legacyEventIds.get(halfPruned.orderId)![0]!],
    ]);
  });

  expect(await migrateDatabase(serviceDir, url)).toEqual([expect.stringMatching(/_payment_ledger$/)]);
  const config = loadPaymentsConfig({
    ...credentialsEnv("payments"),
    PAYMENTS_HOST: "127.0.0.1",
    PAYMENTS_PORT: "0",
    PAYMENTS_METRICS_PORT: "0",
    PAYMENTS_DATABASE_URL: url,
    NATS_URL: process.env.NATS_URL,
    LOG_LEVEL: "silent",
  });
  service = await startService({ context: "payments", serviceDir, config, start: buildPayments });
  client = createServiceClient(PaymentService, { address: service.grpc.address, credential: serviceCredential("orders") });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await db?.close();
  if (url) await dropDatabase(url);
});

const asAdmin = { headers: adminHeaders() };

interface StreamRow {
  id: string;
  type: string;
  stream_version: number;
  sent: boolean;
}

const streamRows = (orderId: string) =>
  db.query<StreamRow>(
    `SELECT id::text, type, stream_version, sent_at IS NOT NULL AS sent FROM outbox_events WHERE stream_id = $1 ORDER BY stream_version`,
    [`payment-${orderId}`],
  );

describe("moving the payments table into streams", () => {
  it("leaves every payment as it was, now the fold of its stream", async () => {
    for (const payment of all) {
      const { payment: now } = await client.getPayment({ orderId: payment.orderId });
      expect(now, payment.status).toEqual(
        expect.objectContaining({
          id: payment.id,
          orderId: payment.orderId,
          userId: payment.userId ?? "",
          status: PaymentStatus[payment.status],
          declineReason: payment.declineReason ?? "",
          createTime: timestampFromDate(payment.createdAt),
          updateTime: timestampFromDate(payment.updatedAt),
        }),
      );
      expect(now?.amount && { currencyCode: now.amount.currencyCode, amountMinor: now.amount.amountMinor }).toEqual(
        payment.amountMinor === null ? undefined : { currencyCode: payment.currency, amountMinor: payment.amountMinor },
      );
    }
    expect(await db.query("SELECT 1 FROM pg_tables WHERE tablename = 'payments'")).toEqual([]);
  });

  it("makes the published rows the stream when they are all there, as they were sent", async () => {
    for (const payment of [authorized, captured, voided, refunded, declined, overLimit, unsent]) {
      const rows = await streamRows(payment.orderId);
      expect(rows.map((row) => row.id)).toEqual(legacyEventIds.get(payment.orderId));
      expect(rows.map((row) => row.stream_version)).toEqual(pathTo[payment.status].map((_, index) => index + 1));
    }
    // The one not published before is published now, as any unsent outbox row.
    await waitFor(
      () => streamRows(unsent.orderId),
      (rows) => rows.every((row) => row.sent),
      { what: "the unsent event of a migrated stream to be published" },
    );

    const { history } = await client.getOrderPayment({ orderId: refunded.orderId }, asAdmin);
    expect(history.map((entry) => [entry.version, PaymentEventType[entry.type], entry.occurTime])).toEqual([
      [1, "AUTHORIZED", timestampFromDate(refunded.createdAt)],
      [2, "CAPTURED", timestampFromDate(at(7))],
      [3, "REFUNDED", timestampFromDate(refunded.updatedAt)],
    ]);
    expect(history.every((entry) => entry.cause === undefined)).toBe(true);
    const [decline] = (await client.getOrderPayment({ orderId: overLimit.orderId }, asAdmin)).history;
    expect(decline).toMatchObject({ reason: "AMOUNT_LIMIT_EXCEEDED", amount: { currencyCode: "EUR", amountMinor: 5_000_000n } });
  });

  it("makes the stream from the table when rows are missing, as sent, and leaves the rows it did not use in the outbox", async () => {
    for (const payment of [tombstone, pruned, halfPruned]) {
      const rows = await streamRows(payment.orderId);
      expect(rows.map((row) => [row.stream_version, row.sent])).toEqual(
        (payment === tombstone ? ["VOIDED"] : pathTo[payment.status]).map((_, index) => [index + 1, true]),
      );
    }
    const { history } = await client.getOrderPayment({ orderId: pruned.orderId }, asAdmin);
    expect(history.map((entry) => [PaymentEventType[entry.type], entry.occurTime, entry.cause?.command])).toEqual([
      ["AUTHORIZED", timestampFromDate(pruned.createdAt), "migration"],
      ["CAPTURED", timestampFromDate(pruned.updatedAt), "migration"],
      ["REFUNDED", timestampFromDate(pruned.updatedAt), "migration"],
    ]);
    const leftOver = await waitFor(
      () =>
        db.query<{ stream_id: string | null; sent: boolean }>(
          "SELECT stream_id, sent_at IS NOT NULL AS sent FROM outbox_events WHERE id = $1",
          [legacyEventIds.get(halfPruned.orderId)![1]],
        ),
      ([row]) => row?.sent === true,
      { what: "the row left out of the stream to be published" },
    );
    expect(leftOver).toEqual([{ stream_id: null, sent: true }]);
  });

  it("goes on from the migrated streams", async () => {
    expect((await client.refundPayment({ orderId: captured.orderId })).payment?.status).toBe(PaymentStatus.REFUNDED);
    expect((await streamRows(captured.orderId)).map((row) => row.stream_version)).toEqual([1, 2, 3]);
    expect((await client.capturePayment({ orderId: authorized.orderId })).payment?.status).toBe(PaymentStatus.CAPTURED);
    await expect(
      client.authorizePayment({
        orderId: tombstone.orderId,
        userId: randomUUID(),
        amount: { currencyCode: "USD", amountMinor: 1n },
        paymentToken: "tok_visa",
      }),
    ).rejects.toMatchObject({ code: Code.FailedPrecondition, rawMessage: `payment for order ${tombstone.orderId} was voided` });
    expect((await client.voidPayment({ orderId: declined.orderId })).payment?.status).toBe(PaymentStatus.DECLINED);
  });

  it("folds every migrated stream without a fault, and keeps global positions in the order events happened", async () => {
    const report = await new PaymentLedger(db, { snapshotEvery: 2 }).refold();
    expect(report).toMatchObject({ streams: all.length, mismatches: [], unfoldable: [] });
    const positions = await db.query<{ created_at: Date }>(
      "SELECT created_at FROM outbox_events WHERE stream_id IS NOT NULL ORDER BY position",
    );
    const times = positions.map((row) => row.created_at.getTime());
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it("refuses to delete a row of a stream", async () => {
    await expect(db.execute("DELETE FROM outbox_events WHERE stream_id = $1", [`payment-${refunded.orderId}`])).rejects.toMatchObject({
      message: expect.stringContaining("ledger rows are never deleted"),
    });
    expect(await streamRows(refunded.orderId)).toHaveLength(3);
  });
});
