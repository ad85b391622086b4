import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Client } from "@connectrpc/connect";
import { PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { Code, ConnectError, createServiceClient } from "@shop/runtime";
import { createTestDatabase, serviceCredential, type TestDatabase } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { ServiceDatabases } from "../support/databases.js";
import { freePorts } from "../support/free-port.js";
import { NatsServer } from "../support/nats-server.js";
import { repoRoot, ServiceProcess } from "../support/service-process.js";

/**
 * Captures, voids and refunds of the same payments sent at the same moment to several payments
 * processes on one database: where the rules allow one outcome, exactly one happens, and each
 * payment's stream holds each event once. What keeps them apart is the stream's version check
 * in PostgreSQL; nothing in a process could, since each decides alone.
 */

const processes = 3;
const orders = 40;

let dir: string;
let nats: NatsServer;
let db: TestDatabase;
let databases: ServiceDatabases;
const replicas: ServiceProcess[] = [];
const clients: (Client<typeof PaymentService> & { close(): void })[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "shop-payment-races-"));
  [nats, db] = await Promise.all([NatsServer.start({ dir }), createTestDatabase("payments", path.join(repoRoot, "services", "payments"))]);
  databases = new ServiceDatabases(() => db.url);
  const ports = await freePorts(processes);
  for (const [index, port] of ports.entries()) {
    const replica = new ServiceProcess({
      context: "payments",
      port,
      env: { ...process.env, PAYMENTS_DATABASE_URL: db.url, NATS_URL: nats.url, LOG_LEVEL: "warn" },
      logFile: path.join(dir, `payments-${index}.log`),
    });
    replicas.push(replica);
  }
  await Promise.all(replicas.map((replica) => replica.start()));
  for (const replica of replicas)
    clients.push(
      createServiceClient(PaymentService, { address: replica.address, defaultTimeoutMs: 20_000, credential: serviceCredential("orders") }),
    );
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.allSettled(replicas.map((replica) => replica.stop()));
  await nats?.stop();
  await databases?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

/** What each call came to: the status it answered, or the code it failed with. */
async function outcome(call: Promise<{ payment?: { status: PaymentStatus } }>): Promise<string> {
  try {
    return PaymentStatus[(await call).payment!.status];
  } catch (err) {
    return Code[ConnectError.from(err).code];
  }
}

async function streamTypes(orderId: string): Promise<string[]> {
  const rows = await databases.query<{ type: string }>(
    "payments",
    "SELECT type FROM outbox_events WHERE stream_id = $1 ORDER BY stream_version",
    [`payment-${orderId}`],
  );
  return rows.map((row) => row.type.replace("shop.payments.v1.Payment", ""));
}

async function authorizedOrders(): Promise<string[]> {
  const ids = Array.from({ length: orders }, () => randomUUID());
  await Promise.all(
    ids.map((orderId, i) =>
      clients[i % processes]!.authorizePayment({
        orderId,
        userId: randomUUID(),
        amount: { currencyCode: "USD", amountMinor: 1000n + BigInt(i) },
        paymentToken: "tok_visa",
      }),
    ),
  );
  return ids;
}

describe("one payment, several processes at once", () => {
  it("captures or voids an authorization, never both", async () => {
    onTestFailed(() => console.error(replicas.map((replica) => replica.logTail(20)).join("\n")));
    const ids = await authorizedOrders();
    const results = await Promise.all(
      ids.map(async (orderId, i) => {
        const [capture, void_] = await Promise.all([
          outcome(clients[i % processes]!.capturePayment({ orderId })),
          outcome(clients[(i + 1) % processes]!.voidPayment({ orderId })),
        ]);
        return { orderId, capture, void: void_, stream: await streamTypes(orderId) };
      }),
    );
    const wrong = results.filter(
      (r) =>
        !(
          (r.capture === "CAPTURED" && r.void === "FailedPrecondition" && r.stream.join() === "Authorized,Captured") ||
          (r.void === "VOIDED" && r.capture === "FailedPrecondition" && r.stream.join() === "Authorized,Voided")
        ),
    );
    expect(wrong).toEqual([]);
  });

  it("refunds a captured payment once, however many processes are asked, and never voids it", async () => {
    const ids = await authorizedOrders();
    await Promise.all(ids.map((orderId, i) => clients[i % processes]!.capturePayment({ orderId })));
    const results = await Promise.all(
      ids.map(async (orderId, i) => {
        const calls = await Promise.all([
          ...clients.map((client) => outcome(client.refundPayment({ orderId }))),
          outcome(clients[i % processes]!.voidPayment({ orderId })),
        ]);
        return { orderId, calls, stream: await streamTypes(orderId) };
      }),
    );
    const wrong = results.filter(
      (r) =>
        r.calls.join() !== [...clients.map(() => "REFUNDED"), "FailedPrecondition"].join() ||
        r.stream.join() !== "Authorized,Captured,Refunded",
    );
    expect(wrong).toEqual([]);
  });
});
