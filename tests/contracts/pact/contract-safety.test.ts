import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { MatchersV3 } from "@pact-foundation/pact";
import { PaymentRefundedSchema } from "@shop/contracts/shop/payments/v1/events_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { createServiceClient } from "@shop/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StorefrontClient } from "./storefront-client.js";
import { buyer, checkoutOrder, connectJson, connectPath, noAbort, sagaStepsAgainst } from "./support/checkout.js";
import { type ConnectProvider, serveOverConnect } from "./support/connect-provider.js";
import { type JsonRewrite, startDriftingProxy } from "./support/drifting-proxy.js";
import { deliver, eventFromOutbox, eventMetadata, messageConsumerPact } from "./support/events.js";
import { type NotificationsConsumer, startNotificationsConsumer } from "./support/notifications.js";
import { httpConsumerPact, money, pactFile, uuidV4, verifyHttpPact, verifyMessagePact } from "./support/pacts.js";
import { refundAPayment } from "./support/payments.js";
import { buildTestProvider, startTestService, type TestProvider, type TestService } from "./support/services.js";

// Pacts of these proofs go to a folder of their own, never to the committed contracts/pacts.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "shop-pact-proofs-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** The error a verification fails with; fails the test if it passes. */
const failureOf = (verification: Promise<void>) =>
  verification.then(
    () => {
      throw new Error("expected the verification to fail");
    },
    (err: unknown) => err as Error,
  );

describe("a consumer test that never exercises its interaction", () => {
  const productId = "6b1e2f3a-4c5d-4e6f-8a7b-9c0d1e2f3a4b";

  it("fails instead of passing, and records no pact", async () => {
    const pact = httpConsumerPact("idle-storefront", "gateway", dir);
    pact
      .uponReceiving("a request for a product")
      .withRequest({ method: "GET", path: `/v1/products/${productId}` })
      .willRespondWith({ status: 200, body: { product: { id: productId } } });
    const run = pact.executeTest(async () => {
      // The consumer code under test never calls the API it described.
    });
    await expect(run).rejects.toThrow(new RegExp(`was expected but not received[\\s\\S]*/v1/products/${productId}`));
    expect(existsSync(pactFile("idle-storefront", "gateway", dir))).toBe(false);
  });

  it("fails when the consumer sends a request other than the one it recorded", async () => {
    const pact = httpConsumerPact("confused-storefront", "gateway", dir);
    pact
      .uponReceiving("a request for a product")
      .withRequest({ method: "GET", path: `/v1/products/${productId}` })
      .willRespondWith({ status: 200, body: { product: { id: productId } } });
    const run = pact.executeTest(async (mock) => {
      // Even a consumer that swallows the mock's error answer cannot pass.
      await new StorefrontClient(mock.url).getStock(productId).catch(() => undefined);
    });
    await expect(run).rejects.toThrow(
      new RegExp(`was not expected[\\s\\S]*/v1/products/${productId}/stock[\\s\\S]*was expected but not received`),
    );
    expect(existsSync(pactFile("confused-storefront", "gateway", dir))).toBe(false);
  });
});

describe("a provider that drops or retypes a field a consumer relies on", () => {
  const declinedOrder = "1c7e1e9f-4d63-4b9f-8e2b-6a4f3d8b0c21";
  const interaction = "an authorization with a declining card";
  let payments: TestProvider;
  let server: ConnectProvider;

  beforeAll(async () => {
    payments = await buildTestProvider("payments");
    server = await serveOverConnect(payments.registration);
    // What orders relies on: the status, and the provider's reason for a decline.
    const pact = httpConsumerPact("orders", "payments", dir);
    pact
      .uponReceiving(interaction)
      .withRequest({
        method: "POST",
        path: connectPath(PaymentService, "AuthorizePayment"),
        headers: connectJson,
        body: {
          orderId: declinedOrder,
          userId: buyer.userId,
          amount: { currencyCode: "USD", amountMinor: "2598" },
          paymentToken: "tok_decline",
        },
      })
      .willRespondWith({
        status: 200,
        headers: connectJson,
        body: { payment: { status: "PAYMENT_STATUS_DECLINED", declineReason: MatchersV3.string("CARD_DECLINED") } },
      });
    await pact.executeTest(async (mock) => {
      const outcome = await sagaStepsAgainst(mock.url).execute(
        "AUTHORIZE",
        checkoutOrder(declinedOrder, { paymentToken: "tok_decline" }),
        noAbort(),
      );
      expect(outcome).toMatchObject({ kind: "rejected", reason: "PAYMENT_DECLINED" });
    });
  });

  afterAll(async () => {
    await server?.stop();
    await payments?.stop();
  });

  const payment = (body: Record<string, unknown>) => body.payment as Record<string, unknown>;

  it.each<[string, JsonRewrite, string]>([
    ["drops declineReason", (body) => delete payment(body).declineReason, "declineReason"],
    ["retypes declineReason as a number", (body) => (payment(body).declineReason = 402), "$.payment.declineReason"],
    ["renames a status value", (body) => (payment(body).status = "DECLINED"), "$.payment.status"],
  ])("fails when payments %s, naming consumer, interaction and field", async (_change, rewrite, field) => {
    const drifted = await startDriftingProxy(server.url, rewrite);
    try {
      const failure = await failureOf(verifyHttpPact({ consumer: "orders", provider: "payments", providerBaseUrl: drifted.url, dir }));
      expect(failure.message).toContain("provider payments breaks consumer orders");
      expect(failure.message).toContain(interaction);
      expect(failure.message).toContain(field);
    } finally {
      await drifted.stop();
    }
  });

  it("passes against the same provider unchanged", async () => {
    const unchanged = await startDriftingProxy(server.url, () => undefined);
    try {
      await verifyHttpPact({ consumer: "orders", provider: "payments", providerBaseUrl: unchanged.url, dir });
    } finally {
      await unchanged.stop();
    }
  });
});

describe("an event producer that drops a field a consumer relies on", () => {
  const description = "a payment refunded event";
  const state = "the payment of a confirmed order was refunded";
  let notifications: NotificationsConsumer;
  let payments: TestService;
  let client: ReturnType<typeof createServiceClient<typeof PaymentService>>;

  beforeAll(async () => {
    [notifications, payments] = await Promise.all([startNotificationsConsumer(), startTestService("payments")]);
    client = createServiceClient(PaymentService, { address: payments.address });
    const userId = "6c1d2e3f-4a5b-4c6d-9e7f-8a9b0c1d2e3f";
    await messageConsumerPact("notifications", "payments", dir)
      .given(state)
      .expectsToReceive(description)
      .withContent({ orderId: uuidV4("5b0c1d2e-3f4a-4b5c-8d6e-7f8a9b0c1d2e"), userId: uuidV4(userId), amount: money("2598") })
      .withMetadata(eventMetadata(PaymentRefundedSchema))
      .verify(async (message) => {
        await deliver(message, notifications.handlers, notifications.db);
        expect(await notifications.notifications.listForUser(userId, 10)).toHaveLength(1);
      });
  });

  afterAll(async () => {
    client?.close();
    await payments?.stop();
    await notifications?.stop();
  });

  it("fails verification naming consumer, message and field", async () => {
    let refunded: string | undefined;
    const failure = await failureOf(
      verifyMessagePact({
        consumer: "notifications",
        provider: "payments",
        dir,
        stateHandlers: {
          [state]: async () => {
            refunded = await refundAPayment(client);
          },
        },
        messageProviders: {
          [description]: async () => {
            const produced = await eventFromOutbox(payments.databaseUrl, PaymentRefundedSchema, (event) => event.orderId === refunded);
            delete (produced.message as Record<string, unknown>).amount;
            return produced;
          },
        },
      }),
    );
    expect(failure.message).toContain("provider payments breaks consumer notifications");
    expect(failure.message).toContain(description);
    expect(failure.message).toContain("amount");
  });
});

describe("a provider verification without a state the consumer needs", () => {
  it("fails before replaying anything, naming the state", async () => {
    const pact = httpConsumerPact("stateful-storefront", "gateway", dir);
    pact
      .given("a product is in stock")
      .uponReceiving("a request for the product list")
      .withRequest({ method: "GET", path: "/v1/products" })
      .willRespondWith({ status: 200, body: { products: [] } });
    await pact.executeTest(async (mock) => {
      await new StorefrontClient(mock.url).listProducts();
    });
    const failure = await failureOf(
      verifyHttpPact({ consumer: "stateful-storefront", provider: "gateway", providerBaseUrl: "http://127.0.0.1:9", dir }),
    );
    expect(failure.message).toBe(`gateway sets up no provider state named "a product is in stock", which stateful-storefront's pact needs`);
  });
});
