import { MatchersV3 } from "@pact-foundation/pact";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buyer, checkoutOrder, connectJson, connectPath, noAbort, sagaStepsAgainst } from "./support/checkout.js";
import { type ConnectProvider, connectJsonClient, serveOverConnect } from "./support/connect-provider.js";
import { httpConsumerPact, removePact, verifyHttpPact } from "./support/pacts.js";
import { buildTestProvider, type TestProvider } from "./support/services.js";

const consumer = "orders";
const provider = "payments";

const approvedOrder = "0b6f0d8e-3c52-4a8e-9d1a-5f3e2c7a9b10";
const declinedOrder = "1c7e1e9f-4d63-4b9f-8e2b-6a4f3d8b0c21";
// One order per interaction: the provider verifies them all against one database.
const orderToCapture = "2d8f2fa0-5e74-4cae-9f3c-7b5a4e9c1d32";
const orderToVoid = "4fab4bc2-7a96-4ec0-9b5e-9d7c6abe3f54";
const orderToRefund = "3e9a3ab1-6f85-4dbf-8a4d-8c6b5fad2e43";

const paymentFor = (orderId: string) => ({ orderId, userId: buyer.userId, amountMinor: "2598" });

describe("orders (consumer) of payments", () => {
  const pact = httpConsumerPact(consumer, provider);
  beforeAll(() => removePact(consumer, provider));

  it("authorizes the order total and goes on when the payment is approved", async () => {
    pact
      .uponReceiving("an authorization of an order total with an approving card")
      .withRequest({
        method: "POST",
        path: connectPath(PaymentService, "AuthorizePayment"),
        headers: connectJson,
        body: {
          orderId: approvedOrder,
          userId: buyer.userId,
          amount: { currencyCode: "USD", amountMinor: "2598" },
          paymentToken: "tok_visa",
        },
      })
      .willRespondWith({ status: 200, headers: connectJson, body: { payment: { status: "PAYMENT_STATUS_AUTHORIZED" } } });
    await pact.executeTest(async (mock) => {
      expect(await sagaStepsAgainst(mock.url).execute("AUTHORIZE", checkoutOrder(approvedOrder), noAbort())).toEqual({ kind: "succeeded" });
    });
  });

  it("cancels the checkout with the provider's reason when the card is declined", async () => {
    pact
      .uponReceiving("an authorization of an order total with a declining card")
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
      expect(outcome).toEqual({ kind: "rejected", reason: "PAYMENT_DECLINED", detail: "CARD_DECLINED" });
    });
  });

  it.each([
    ["captures", "CAPTURE", "CapturePayment", "a capture of an authorized payment", orderToCapture, "an authorized payment for the order"],
    ["voids", "VOID_PAYMENT", "VoidPayment", "a void of an authorized payment", orderToVoid, "an authorized payment for the order"],
    ["refunds", "REFUND_PAYMENT", "RefundPayment", "a refund of a captured payment", orderToRefund, "a captured payment for the order"],
  ] as const)(
    "%s the payment of an order and relies on nothing but success",
    async (_verb, action, method, description, orderId, state) => {
      pact
        .given(state, paymentFor(orderId))
        .uponReceiving(description)
        .withRequest({ method: "POST", path: connectPath(PaymentService, method), headers: connectJson, body: { orderId } })
        .willRespondWith({ status: 200, headers: connectJson, body: {} });
      await pact.executeTest(async (mock) => {
        expect(await sagaStepsAgainst(mock.url).execute(action, checkoutOrder(orderId), noAbort())).toEqual({ kind: "succeeded" });
      });
    },
  );
});

describe("payments (provider) verifies the orders pact", () => {
  let payments: TestProvider;
  let server: ConnectProvider;

  beforeAll(async () => {
    payments = await buildTestProvider("payments");
    server = await serveOverConnect(payments.registration);
  });

  afterAll(async () => {
    await server?.stop();
    await payments?.stop();
  });

  it("answers every interaction orders recorded", async () => {
    // States go through the provider's own API, as any client would create them.
    const client = connectJsonClient(PaymentService, server.url);
    const authorize = async (params: unknown) => {
      const { orderId, userId, amountMinor } = params as ReturnType<typeof paymentFor>;
      await client.authorizePayment({
        orderId,
        userId,
        amount: { currencyCode: "USD", amountMinor: BigInt(amountMinor) },
        paymentToken: "tok_visa",
      });
      return { orderId };
    };
    await verifyHttpPact({
      consumer,
      provider,
      providerBaseUrl: server.url,
      stateHandlers: {
        "an authorized payment for the order": authorize,
        "a captured payment for the order": async (params) => {
          const { orderId } = await authorize(params);
          await client.capturePayment({ orderId });
        },
      },
    });
  });
});
