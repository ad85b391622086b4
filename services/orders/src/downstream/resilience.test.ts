import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { dependencyUnavailable } from "@shop/runtime";
import { failureOf, waitFor } from "@shop/runtime/testing";
import { describe, expect, it } from "vitest";
import { type ResilienceOptions, resilienceInterceptor } from "./resilience.js";

const orderId = "0b9d6c1e-8a51-4d7e-9a0e-3f1c2b4d5e6f";
const defaults: ResilienceOptions = { maxConcurrentCalls: 4, maxQueuedCalls: 4, breakerThreshold: 3, breakerHalfOpenAfterMs: 100 };

function shippingAnswering(cancelShipment: () => Promise<object> | object, options: Partial<ResilienceOptions> = {}) {
  let calls = 0;
  const transport = createRouterTransport(
    (router) =>
      router.service(ShippingService, {
        cancelShipment: async () => {
          calls += 1;
          return cancelShipment();
        },
      }),
    { transport: { interceptors: [resilienceInterceptor("shipping", { ...defaults, ...options })] } },
  );
  return { client: createClient(ShippingService, transport), calls: () => calls };
}

describe("downstream resilience", () => {
  it("does not open the circuit when a healthy downstream reports its own dependency failing", async () => {
    let failures = 0;
    const shipping = shippingAnswering(() => {
      if (failures++ < 6) throw dependencyUnavailable("carrier temporarily unavailable");
      return {};
    });
    for (let i = 0; i < 6; i++) {
      expect(await failureOf(shipping.client.cancelShipment({ orderId }))).toEqual({
        code: Code.Unavailable,
        message: "carrier temporarily unavailable",
      });
    }
    await shipping.client.cancelShipment({ orderId });
    expect(shipping.calls()).toBe(7);
  });

  it("opens the circuit after consecutive outages, fails fast while open, and closes after a good trial call", async () => {
    let healthy = false;
    const shipping = shippingAnswering(() => {
      if (!healthy) throw new ConnectError("connection refused", Code.Unavailable);
      return {};
    });
    for (let i = 0; i < 3; i++) expect((await failureOf(shipping.client.cancelShipment({ orderId }))).code).toBe(Code.Unavailable);

    const open = await failureOf(shipping.client.cancelShipment({ orderId }));
    expect(open).toEqual({ code: Code.Unavailable, message: "shipping is failing; circuit open" });
    expect(shipping.calls()).toBe(3);

    healthy = true;
    const recovered = () =>
      shipping.client.cancelShipment({ orderId }).then(
        () => true,
        () => false,
      );
    await waitFor(recovered, Boolean, { what: "the circuit to let a trial call through" });
    // Only the trial call reached the service: calls while open were refused without calling.
    expect(shipping.calls()).toBe(4);
    await shipping.client.cancelShipment({ orderId });
    expect(shipping.calls()).toBe(5);
  });

  it("does not count business answers as outages", async () => {
    const shipping = shippingAnswering(() => {
      throw new ConnectError("shipment is DISPATCHED", Code.FailedPrecondition);
    });
    for (let i = 0; i < 5; i++) expect((await failureOf(shipping.client.cancelShipment({ orderId }))).code).toBe(Code.FailedPrecondition);
    expect(shipping.calls()).toBe(5);
  });

  it("limits the calls in flight and refuses more than the queue holds with RESOURCE_EXHAUSTED", async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const shipping = shippingAnswering(() => released.then(() => ({})), { maxConcurrentCalls: 1, maxQueuedCalls: 1 });
    const first = shipping.client.cancelShipment({ orderId });
    const queued = shipping.client.cancelShipment({ orderId });
    const refused = await failureOf(shipping.client.cancelShipment({ orderId }));
    expect(refused).toEqual({ code: Code.ResourceExhausted, message: "too many calls waiting for shipping" });
    release();
    await Promise.all([first, queued]);
    expect(shipping.calls()).toBe(2);
  });
});
