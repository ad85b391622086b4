import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { promisify } from "node:util";
import { createSqlDatabase, type SqlDatabase } from "@shop/runtime";
import { createTestDatabase, type TestDatabase } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PaymentLedger, paymentStreamId } from "./db/payments.js";
import { authorizationEvent, type CommandContext, decide } from "./domain/payment.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const script = path.join(import.meta.dirname, "rebuild-ledger.ts");

let db: TestDatabase;
let sql: SqlDatabase;
let ledger: PaymentLedger;

beforeAll(async () => {
  db = await createTestDatabase("payments", serviceDir);
  sql = createSqlDatabase(db.url, { poolSize: 2 });
  ledger = new PaymentLedger(sql, { snapshotEvery: 2 });
});

afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

const context = (): CommandContext => ({ occurredAt: new Date(), cause: { command: "CapturePayment" }, newPaymentId: randomUUID() });

/** A payment authorized and captured through the ledger: two events and a snapshot at version 2. */
async function capturedPayment(): Promise<string> {
  const orderId = randomUUID();
  const amount = { currency: "USD", amountMinor: 1250n };
  await ledger.execute(orderId, () => [authorizationEvent({ orderId, userId: randomUUID(), amount }, { outcome: "approved" }, context())]);
  await ledger.execute(orderId, (payment) => {
    const decision = decide("capture", orderId, payment, context());
    return decision.kind === "append" ? [decision.event] : [];
  });
  return orderId;
}

async function rebuild(): Promise<{ code: number; stdout: string }> {
  const env = { ...process.env, PAYMENTS_DATABASE_URL: db.url, PAYMENT_SNAPSHOT_EVERY: "2" };
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", script], { env });
    return { code: 0, stdout };
  } catch (err) {
    const failed = err as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe("npm run payments:rebuild-ledger", () => {
  it("folds every stream again and finds each snapshot in agreement", async () => {
    await capturedPayment();
    await capturedPayment();
    const { code, stdout } = await rebuild();
    expect(stdout).toMatch(
      /payments ledger: 2 streams, 4 events folded; 2 snapshots checked \(0 of other fold versions ignored\); 0 disagree, 0 streams do not fold/,
    );
    expect(code).toBe(0);
  });

  it("names a snapshot that disagrees with the fold and exits 1", async () => {
    const orderId = await capturedPayment();
    await sql.execute(`UPDATE stream_snapshots SET state = jsonb_set(state, '{amountMinor}', '"1"') WHERE stream_id = $1`, [
      paymentStreamId(orderId),
    ]);
    const { code, stdout } = await rebuild();
    expect(stdout).toContain(`payment-${orderId}: its snapshot at version 2 differs from the fold`);
    expect(stdout).toContain('"amountMinor":"1"');
    expect(stdout).toContain('"amountMinor":"1250"');
    expect(stdout).toMatch(/3 snapshots checked .*; 1 disagree/);
    expect(code).toBe(1);
  });
});
