import { randomUUID } from "node:crypto";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { PaymentAuthorizedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { PaymentEventType, PaymentService, PaymentStatus } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import {
  createServiceClient,
  createSqlDatabase,
  eventHeaders,
  metadataKeys,
  type RunningService,
  type SqlDatabase,
  startService,
} from "@shop/runtime";
import {
  adminHeaders,
  callerHeaders,
  createTestDatabase,
  credentialsEnv,
  outboxEvents,
  serviceCredential,
  type TestDatabase,
  testNatsUrl,
} from "@shop/runtime/testing";
import { connect, type Msg } from "nats";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadPaymentsConfig } from "./config.js";
import { buildPayments } from "./server.js";

const serviceDir = path.resolve(import.meta.dirname, "..");
const amountLimitMinor = 100_000n;
const natsUrl = process.env.NATS_URL;

let db: TestDatabase;
let inspect: SqlDatabase;
let service: RunningService;
let client: ReturnType<typeof createServiceClient<typeof PaymentService>>;

function startPayments(databaseUrl: string) {
  const config = loadPaymentsConfig({
    ...credentialsEnv("payments"),
    PAYMENTS_HOST: "127.0.0.1",
    PAYMENTS_PORT: "0",
    PAYMENTS_METRICS_PORT: "0",
    PAYMENTS_DATABASE_URL: databaseUrl,
    PAYMENT_AMOUNT_LIMIT_MINOR: String(amountLimitMinor),
    NATS_URL: natsUrl,
    LOG_LEVEL: "silent",
  });
  return startService({ context: "payments", serviceDir, config, start: buildPayments });
}

beforeAll(async () => {
  db = await createTestDatabase("payments", serviceDir);
  inspect = createSqlDatabase(db.url, { poolSize: 2 });
  service = await startPayments(db.url);
  client = createServiceClient(PaymentService, { address: service.grpc.address, credential: serviceCredential("orders") });
});

afterAll(async () => {
  client?.close();
  await service?.stop();
  await inspect?.close();
  await db?.drop();
});

const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

function authorization(token = "tok_visa", amountMinor = 1999n) {
  return { orderId: randomUUID(), userId: randomUUID(), amount: usd(amountMinor), paymentToken: token };
}

/** The outbox rows written for an order, oldest first, payloads decoded. */
const eventsOf = async (orderId: string) => (await outboxEvents(inspect)).filter((event) => event.payload.orderId === orderId);

const subjectsOf = async (orderId: string) => (await eventsOf(orderId)).map((event) => event.subject);

async function attemptsOf(orderId: string): Promise<number> {
  const [row] = await inspect.query<{ attempts: number }>("SELECT attempts FROM authorization_attempts WHERE order_id = $1::uuid", [
    orderId,
  ]);
  return row?.attempts ?? 0;
}

async function authorized() {
  const request = authorization();
  const { payment } = await client.authorizePayment(request);
  expect(payment?.status).toBe(PaymentStatus.AUTHORIZED);
  return request.orderId;
}

describe("authorization with the simulated provider", () => {
  it("authorizes tok_visa and writes PaymentAuthorized with it", async () => {
    const request = authorization("tok_visa", 2500n);
    const { payment } = await client.authorizePayment(request);
    expect(payment).toMatchObject({
      orderId: request.orderId,
      userId: request.userId,
      status: PaymentStatus.AUTHORIZED,
      amount: { currencyCode: "USD", amountMinor: 2500n },
      declineReason: "",
    });
    expect(payment?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await eventsOf(request.orderId)).toEqual([
      {
        id: expect.any(String),
        subject: "shop.payments.payment_authorized",
        type: "shop.payments.v1.PaymentAuthorized",
        payload: expect.objectContaining({
          paymentId: payment!.id,
          orderId: request.orderId,
          userId: request.userId,
          amount: expect.objectContaining({ currencyCode: "USD", amountMinor: 2500n }),
          occurTime: payment!.updateTime,
        }),
      },
    ]);
  });

  it("declines tok_decline as a result, not an error, with PaymentDeclined", async () => {
    const request = authorization("tok_decline");
    const { payment } = await client.authorizePayment(request);
    expect(payment).toMatchObject({ status: PaymentStatus.DECLINED, declineReason: "CARD_DECLINED", amount: { amountMinor: 1999n } });
    expect(await eventsOf(request.orderId)).toEqual([
      {
        id: expect.any(String),
        subject: "shop.payments.payment_declined",
        type: "shop.payments.v1.PaymentDeclined",
        payload: expect.objectContaining({ paymentId: payment!.id, userId: request.userId, reason: "CARD_DECLINED" }),
      },
    ]);
  });

  it("declines any other token as CARD_DECLINED", async () => {
    const { payment } = await client.authorizePayment(authorization("tok_mastercard"));
    expect(payment).toMatchObject({ status: PaymentStatus.DECLINED, declineReason: "CARD_DECLINED" });
  });

  it("declines amounts above PAYMENT_AMOUNT_LIMIT_MINOR and accepts the limit itself", async () => {
    const over = await client.authorizePayment(authorization("tok_visa", amountLimitMinor + 1n));
    expect(over.payment).toMatchObject({ status: PaymentStatus.DECLINED, declineReason: "AMOUNT_LIMIT_EXCEEDED" });
    const atLimit = await client.authorizePayment(authorization("tok_visa", amountLimitMinor));
    expect(atLimit.payment?.status).toBe(PaymentStatus.AUTHORIZED);
  });

  it("fails tok_flaky with UNAVAILABLE twice, counting attempts across replicas, then approves", async () => {
    const request = authorization("tok_flaky");
    const unavailable = { code: Code.Unavailable, rawMessage: "payment provider temporarily unavailable" };
    await expect(client.authorizePayment(request)).rejects.toMatchObject(unavailable);
    await expect(client.getPayment({ orderId: request.orderId })).rejects.toMatchObject({ code: Code.NotFound });

    const replica = await startPayments(db.url);
    const replicaClient = createServiceClient(PaymentService, { address: replica.grpc.address, credential: serviceCredential("orders") });
    try {
      await expect(replicaClient.authorizePayment(request)).rejects.toMatchObject(unavailable);
    } finally {
      replicaClient.close();
      await replica.stop();
    }

    const { payment } = await client.authorizePayment(request);
    expect(payment?.status).toBe(PaymentStatus.AUTHORIZED);
    expect(await attemptsOf(request.orderId)).toBe(3);
    expect(await subjectsOf(request.orderId)).toEqual(["shop.payments.payment_authorized"]);
  });

  it("returns the stored payment on a repeat without asking the provider again", async () => {
    const approved = authorization("tok_visa");
    const first = await client.authorizePayment(approved);
    const again = await client.authorizePayment({ ...approved, paymentToken: "tok_decline", amount: usd(5n) });
    expect(again.payment).toEqual(first.payment);

    const declined = authorization("tok_decline");
    const declinedFirst = await client.authorizePayment(declined);
    const declinedAgain = await client.authorizePayment({ ...declined, paymentToken: "tok_visa" });
    expect(declinedAgain.payment).toEqual(declinedFirst.payment);

    expect(await attemptsOf(approved.orderId)).toBe(1);
    expect(await attemptsOf(declined.orderId)).toBe(1);
    expect(await subjectsOf(approved.orderId)).toEqual(["shop.payments.payment_authorized"]);
    expect(await subjectsOf(declined.orderId)).toEqual(["shop.payments.payment_declined"]);
  });

  it("applies concurrent authorizations of one order once", async () => {
    const request = authorization("tok_visa");
    const results = await Promise.all(Array.from({ length: 6 }, () => client.authorizePayment(request)));
    const ids = new Set(results.map((r) => r.payment?.id));
    expect(ids.size).toBe(1);
    expect(await subjectsOf(request.orderId)).toEqual(["shop.payments.payment_authorized"]);
  });
});

describe("capture, void and refund", () => {
  it("captures then refunds, each once, with their events in order", async () => {
    const orderId = await authorized();
    const captured = await client.capturePayment({ orderId });
    expect(captured.payment?.status).toBe(PaymentStatus.CAPTURED);
    expect((await client.capturePayment({ orderId })).payment).toEqual(captured.payment);

    const refunded = await client.refundPayment({ orderId });
    expect(refunded.payment).toMatchObject({ status: PaymentStatus.REFUNDED, amount: { amountMinor: 1999n } });
    expect((await client.refundPayment({ orderId })).payment).toEqual(refunded.payment);
    expect((await client.getPayment({ orderId })).payment).toEqual(refunded.payment);

    const events = await eventsOf(orderId);
    expect(events.map((e) => e.type)).toEqual([
      "shop.payments.v1.PaymentAuthorized",
      "shop.payments.v1.PaymentCaptured",
      "shop.payments.v1.PaymentRefunded",
    ]);
    expect(events[1]!.payload).toMatchObject({ paymentId: captured.payment!.id, amount: { amountMinor: 1999n } });
    expect(events[2]!.subject).toBe("shop.payments.payment_refunded");
  });

  it("voids an authorization once and then refuses to authorize the order again", async () => {
    const orderId = await authorized();
    const voided = await client.voidPayment({ orderId });
    expect(voided.payment).toMatchObject({ status: PaymentStatus.VOIDED, amount: { amountMinor: 1999n } });
    expect((await client.voidPayment({ orderId })).payment).toEqual(voided.payment);
    await expect(client.authorizePayment({ ...authorization(), orderId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `payment for order ${orderId} was voided`,
    });
    const events = await eventsOf(orderId);
    expect(events.map((e) => e.subject)).toEqual(["shop.payments.payment_authorized", "shop.payments.payment_voided"]);
    expect(events[1]!.payload).toMatchObject({ paymentId: voided.payment!.id, orderId });
  });

  it("returns a declined payment unchanged when voided", async () => {
    const request = authorization("tok_decline");
    const { payment } = await client.authorizePayment(request);
    expect((await client.voidPayment({ orderId: request.orderId })).payment).toEqual(payment);
    expect(await subjectsOf(request.orderId)).toEqual(["shop.payments.payment_declined"]);
  });

  it("applies concurrent captures once", async () => {
    const orderId = await authorized();
    const results = await Promise.all(Array.from({ length: 5 }, () => client.capturePayment({ orderId })));
    expect(new Set(results.map((r) => r.payment?.status))).toEqual(new Set([PaymentStatus.CAPTURED]));
    expect(await subjectsOf(orderId)).toEqual(["shop.payments.payment_authorized", "shop.payments.payment_captured"]);
  });
});

describe("void tombstones", () => {
  it("records a void of an unknown order as a void without user or amount, and refuses a late authorization", async () => {
    const orderId = randomUUID();
    const { payment } = await client.voidPayment({ orderId });
    expect(payment).toMatchObject({ orderId, userId: "", status: PaymentStatus.VOIDED });
    expect(payment?.amount).toBeUndefined();
    expect((await client.voidPayment({ orderId })).payment).toEqual(payment);
    expect((await client.getPayment({ orderId })).payment).toEqual(payment);

    await expect(client.authorizePayment({ ...authorization(), orderId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: `payment for order ${orderId} was voided`,
    });
    expect(await attemptsOf(orderId)).toBe(0);
    await expect(client.capturePayment({ orderId })).rejects.toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: expect.stringContaining("is VOIDED"),
    });
    expect(await eventsOf(orderId)).toEqual([
      {
        id: expect.any(String),
        subject: "shop.payments.payment_voided",
        type: "shop.payments.v1.PaymentVoided",
        payload: expect.objectContaining({ paymentId: payment!.id, orderId, userId: "", providerReference: "" }),
      },
    ]);
    expect((await eventsOf(orderId))[0]!.payload.amount).toBeUndefined();
  });

  it("leaves no open authorization when a void races an authorization of the same order", async () => {
    const request = authorization("tok_visa");
    const [authorize] = await Promise.allSettled([client.authorizePayment(request), client.voidPayment({ orderId: request.orderId })]);
    if (authorize.status === "rejected") expect(authorize.reason).toMatchObject({ code: Code.FailedPrecondition });
    expect((await client.getPayment({ orderId: request.orderId })).payment?.status).toBe(PaymentStatus.VOIDED);
    const subjects = await subjectsOf(request.orderId);
    expect([["shop.payments.payment_voided"], ["shop.payments.payment_authorized", "shop.payments.payment_voided"]]).toContainEqual(
      subjects,
    );
  });
});

describe("a payment's ledger", () => {
  const withRequestId = (requestId: string, headers: Record<string, string> = {}) => ({
    headers: { ...headers, [metadataKeys.correlationId]: requestId },
  });

  it("holds every event of the payment in order, with amounts, provider references, causes and correlation ids", async () => {
    const request = authorization("tok_visa", 2598n);
    const { orderId, userId } = request;
    const { payment: authorized } = await client.authorizePayment(request, withRequestId("checkout-1"));
    await client.capturePayment({ orderId }, withRequestId("checkout-1"));
    const { payment } = await client.refundPayment({ orderId }, withRequestId("cancel-1"));
    const paymentId = authorized!.id.replaceAll("-", "");

    const ledger = await client.getOrderPayment({ orderId }, { headers: callerHeaders(userId) });
    expect(ledger.payment).toEqual(payment);
    expect(
      ledger.history.map(({ version, type, amount, reason, providerReference, cause }) => ({
        version,
        type,
        amount,
        reason,
        providerReference,
        cause,
      })),
    ).toEqual([
      {
        version: 1,
        type: PaymentEventType.AUTHORIZED,
        amount: expect.objectContaining(usd(2598n)),
        reason: "",
        providerReference: `sim_authorization_${paymentId}`,
        cause: expect.objectContaining({
          command: "AuthorizePayment",
          userId: "",
          role: "",
          service: "orders",
          correlationId: "checkout-1",
        }),
      },
      {
        version: 2,
        type: PaymentEventType.CAPTURED,
        amount: expect.objectContaining(usd(2598n)),
        reason: "",
        providerReference: `sim_capture_${paymentId}`,
        cause: expect.objectContaining({ command: "CapturePayment", correlationId: "checkout-1" }),
      },
      {
        version: 3,
        type: PaymentEventType.REFUNDED,
        amount: expect.objectContaining(usd(2598n)),
        reason: "",
        providerReference: `sim_refund_${paymentId}`,
        cause: expect.objectContaining({ command: "RefundPayment", service: "orders", correlationId: "cancel-1" }),
      },
    ]);
    expect(ledger.history.map((entry) => entry.eventId)).toEqual((await eventsOf(orderId)).map((event) => event.id));
    expect(ledger.history.at(-1)?.occurTime).toEqual(payment?.updateTime);
  });

  it("records the provider's reason with a decline", async () => {
    const request = authorization("tok_visa", amountLimitMinor + 1n);
    await client.authorizePayment(request);
    const { history } = await client.getOrderPayment({ orderId: request.orderId }, { headers: adminHeaders() });
    expect(history).toMatchObject([
      { version: 1, type: PaymentEventType.DECLINED, reason: "AMOUNT_LIMIT_EXCEEDED", amount: usd(amountLimitMinor + 1n) },
    ]);
  });

  it("is shown to the payment's owner and admins only", async () => {
    const request = authorization();
    await client.authorizePayment(request);
    const { orderId } = request;
    expect((await client.getOrderPayment({ orderId }, { headers: callerHeaders(request.userId) })).history).toHaveLength(1);
    expect((await client.getOrderPayment({ orderId }, { headers: adminHeaders() })).history).toHaveLength(1);
    await expect(client.getOrderPayment({ orderId }, { headers: callerHeaders() })).rejects.toMatchObject({ code: Code.PermissionDenied });
    await expect(client.getOrderPayment({ orderId })).rejects.toMatchObject({ code: Code.PermissionDenied });
    const anonymous = createServiceClient(PaymentService, { address: service.grpc.address });
    await expect(anonymous.getOrderPayment({ orderId })).rejects.toMatchObject({ code: Code.Unauthenticated });
    anonymous.close();

    const unknown = randomUUID();
    await expect(client.getOrderPayment({ orderId: unknown }, { headers: adminHeaders() })).rejects.toMatchObject({ code: Code.NotFound });
    // A void before any authorization is no payment of the order.
    await client.voidPayment({ orderId: unknown });
    await expect(client.getOrderPayment({ orderId: unknown }, { headers: adminHeaders() })).rejects.toMatchObject({
      code: Code.NotFound,
      rawMessage: `payment for order ${unknown} not found`,
    });
  });

  it("folds the stream up to asOf: the payment as it stood then, and the events until then", async () => {
    const orderId = await authorized();
    await client.capturePayment({ orderId });
    const headers = adminHeaders();
    const { history } = await client.getOrderPayment({ orderId }, { headers });
    const authorizedAt = history[0]!.occurTime!;

    const then = await client.getOrderPayment({ orderId, asOf: authorizedAt }, { headers });
    expect(then.payment?.status).toBe(PaymentStatus.AUTHORIZED);
    expect(then.history).toEqual(history.slice(0, 1));
    const later = await client.getOrderPayment({ orderId, asOf: timestampFromDate(new Date(Date.now() + 60_000)) }, { headers });
    expect(later.history).toEqual(history);
    const before = timestampFromDate(new Date(timestampDate(authorizedAt).getTime() - 1));
    await expect(client.getOrderPayment({ orderId, asOf: before }, { headers })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it("stores a snapshot every PAYMENT_SNAPSHOT_EVERY events, and commands read it with the events after it", async () => {
    const orderId = await authorized();
    const snapshotOf = async () =>
      (
        await inspect.query<{ version: number; state: { status: string } }>(
          "SELECT version, state FROM stream_snapshots WHERE stream_id = $1",
          [`payment-${orderId}`],
        )
      )[0];
    expect(await snapshotOf()).toBeUndefined();
    const { payment } = await client.capturePayment({ orderId });
    expect(await snapshotOf()).toMatchObject({ version: 2, state: { status: "CAPTURED", amountMinor: "1999", id: payment!.id } });

    // A snapshot that says otherwise shows that it is what a command starts from.
    await inspect.execute(`UPDATE stream_snapshots SET state = jsonb_set(state, '{status}', '"REFUNDED"') WHERE stream_id = $1`, [
      `payment-${orderId}`,
    ]);
    expect((await client.getPayment({ orderId })).payment?.status).toBe(PaymentStatus.REFUNDED);
    expect((await client.refundPayment({ orderId })).payment?.status).toBe(PaymentStatus.REFUNDED);
    expect(await subjectsOf(orderId)).toEqual(["shop.payments.payment_authorized", "shop.payments.payment_captured"]);
    await inspect.execute(`UPDATE stream_snapshots SET state = jsonb_set(state, '{status}', '"CAPTURED"') WHERE stream_id = $1`, [
      `payment-${orderId}`,
    ]);
    expect((await client.refundPayment({ orderId })).payment?.status).toBe(PaymentStatus.REFUNDED);
  });
});

describe("payments bad paths", () => {
  it.each([
    ["AUTHORIZED", "refund", "payment for order %s is AUTHORIZED: only CAPTURED payments can be refunded"],
    ["DECLINED", "capture", "payment for order %s is DECLINED: only AUTHORIZED payments can be captured"],
    ["DECLINED", "refund", "payment for order %s is DECLINED: only CAPTURED payments can be refunded"],
    ["VOIDED", "capture", "payment for order %s is VOIDED: only AUTHORIZED payments can be captured"],
    ["VOIDED", "refund", "payment for order %s is VOIDED: only CAPTURED payments can be refunded"],
    ["CAPTURED", "void", "payment for order %s is CAPTURED: refund it instead"],
    ["REFUNDED", "capture", "payment for order %s is REFUNDED: only AUTHORIZED payments can be captured"],
    ["REFUNDED", "void", "payment for order %s is REFUNDED: only AUTHORIZED payments can be voided"],
  ] as const)("refuses to move a %s payment with %s", async (status, operation, message) => {
    const request = authorization(status === "DECLINED" ? "tok_decline" : "tok_visa");
    const { orderId } = request;
    await client.authorizePayment(request);
    if (status === "VOIDED") await client.voidPayment({ orderId });
    if (status === "CAPTURED" || status === "REFUNDED") await client.capturePayment({ orderId });
    if (status === "REFUNDED") await client.refundPayment({ orderId });
    const before = await eventsOf(orderId);

    const call = { capture: client.capturePayment, void: client.voidPayment, refund: client.refundPayment }[operation];
    await expect(call({ orderId })).rejects.toMatchObject({ code: Code.FailedPrecondition, rawMessage: message.replace("%s", orderId) });
    expect((await client.getPayment({ orderId })).payment?.status).toBe(PaymentStatus[status]);
    expect(await eventsOf(orderId)).toEqual(before);
  });

  it("answers NOT_FOUND to capture, refund and get of an unknown order", async () => {
    const orderId = randomUUID();
    const notFound = { code: Code.NotFound, rawMessage: `payment for order ${orderId} not found` };
    await expect(client.capturePayment({ orderId })).rejects.toMatchObject(notFound);
    await expect(client.refundPayment({ orderId })).rejects.toMatchObject(notFound);
    await expect(client.getPayment({ orderId })).rejects.toMatchObject(notFound);
  });

  it.each([
    [{ orderId: "order-1" }, "orderId"],
    [{ userId: "nobody" }, "userId"],
    [{ amount: undefined }, "amount"],
    [{ amount: { currencyCode: "usd", amountMinor: 1n } }, "amount.currencyCode"],
    [{ amount: usd(-1n) }, "amount.amountMinor"],
    [{ paymentToken: "visa" }, "paymentToken"],
    [{ paymentToken: "tok_VISA" }, "paymentToken"],
  ])("rejects an authorization with %o naming %s", async (override, field) => {
    await expect(client.authorizePayment({ ...authorization(), ...override })).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining(`${field}:`),
    });
  });

  it("rejects a malformed order id on every operation", async () => {
    for (const call of [client.capturePayment, client.voidPayment, client.refundPayment, client.getPayment]) {
      await expect(call({ orderId: "nope" })).rejects.toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: expect.stringContaining("orderId:"),
      });
    }
  });
});

describe("state changes and their events commit together", () => {
  it("keeps the payment unchanged when its event cannot be written", async () => {
    const orderId = await authorized();
    const request = authorization();
    await inspect.execute(`ALTER TABLE outbox_events ADD CONSTRAINT refuse_events CHECK (false) NOT VALID`);
    try {
      await expect(client.capturePayment({ orderId })).rejects.toMatchObject({ code: Code.Internal });
      await expect(client.authorizePayment(request)).rejects.toMatchObject({ code: Code.Internal });
    } finally {
      await inspect.execute(`ALTER TABLE outbox_events DROP CONSTRAINT refuse_events`);
    }
    expect((await client.getPayment({ orderId })).payment?.status).toBe(PaymentStatus.AUTHORIZED);
    await expect(client.getPayment({ orderId: request.orderId })).rejects.toMatchObject({ code: Code.NotFound });
    expect(await subjectsOf(orderId)).toEqual(["shop.payments.payment_authorized"]);

    expect((await client.capturePayment({ orderId })).payment?.status).toBe(PaymentStatus.CAPTURED);
    expect((await client.authorizePayment(request)).payment?.status).toBe(PaymentStatus.AUTHORIZED);
  });
});

describe("publishing", () => {
  it("relays the outbox to JetStream with the event id as message id, then marks rows sent", async () => {
    const nc = await connect({ servers: natsUrl ?? testNatsUrl() });
    try {
      const received: Msg[] = [];
      const subscription = nc.subscribe("shop.payments.>", {
        callback: (err, msg) => {
          if (!err) received.push(msg);
        },
      });
      await nc.flush();
      const request = authorization();
      const { payment } = await client.authorizePayment(request);
      await client.capturePayment({ orderId: request.orderId });
      const events = await eventsOf(request.orderId);

      const messageIdOf = (msg: Msg) => msg.headers?.get(eventHeaders.messageId);
      const polling = { timeout: 10_000, interval: 20 };
      await vi.waitFor(() => expect(received.map(messageIdOf)).toEqual(expect.arrayContaining(events.map((e) => e.id))), polling);
      const authorizedMessage = received.find((msg) => messageIdOf(msg) === events[0]!.id)!;
      expect(authorizedMessage.subject).toBe("shop.payments.payment_authorized");
      expect(authorizedMessage.headers?.get(eventHeaders.type)).toBe("shop.payments.v1.PaymentAuthorized");
      expect(fromBinary(PaymentAuthorizedSchema, authorizedMessage.data)).toMatchObject({
        paymentId: payment!.id,
        orderId: request.orderId,
      });
      subscription.unsubscribe();

      const unsent = async () =>
        (await inspect.query("SELECT id FROM outbox_events WHERE id = ANY($1::uuid[]) AND sent_at IS NULL", [events.map((e) => e.id)]))
          .length;
      await vi.waitFor(async () => expect(await unsent()).toBe(0), polling);
    } finally {
      await nc.drain();
    }
  });
});
