import type { AddressInfo } from "node:net";
import type { ShopContext } from "@shop/contracts";
import { envPrefix } from "@shop/runtime";
import { credentialsEnv } from "@shop/runtime/testing";
import { loadGatewayConfig } from "../../../../gateway/src/config.js";
import { buildGateway } from "../../../../gateway/src/server.js";
import type { TestService } from "./services.js";
import { downstreamOfOrders, startWithOrders, type TestStack } from "./stack.js";

export interface TestSystem extends TestStack<ShopContext> {
  gatewayUrl: string;
}

/** Every service on a fresh database of its own, and the gateway in front of them all. */
export async function startSystem(): Promise<TestSystem> {
  const stack = await startWithOrders(["users", "notifications", ...downstreamOfOrders] as const);
  try {
    const gateway = await buildGateway(
      loadGatewayConfig({
        ...credentialsEnv("gateway"),
        GATEWAY_HOST: "127.0.0.1",
        GATEWAY_PORT: "0",
        // Longer than orders' cancellation wait, so the cancellation answers with its outcome.
        GATEWAY_UPSTREAM_TIMEOUT_MS: "20000",
        NATS_URL: stack.natsUrl,
        LOG_LEVEL: "silent",
        ...Object.fromEntries(
          Object.values<TestService>(stack.services).map((service) => [`${envPrefix(service.context)}_ADDR`, service.address]),
        ),
      }),
    );
    await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
    const { port } = gateway.address() as AddressInfo;
    return {
      services: stack.services,
      natsUrl: stack.natsUrl,
      gatewayUrl: `http://127.0.0.1:${port}`,
      async stop() {
        await gateway.shutdown();
        await stack.stop();
      },
    };
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
