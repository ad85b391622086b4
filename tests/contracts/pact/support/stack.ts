import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ShopContext } from "@shop/contracts";
import { envPrefix } from "@shop/runtime";
import { NatsServer } from "../../../support/nats-server.js";
import { startTestService, type TestService } from "./services.js";

export interface TestStack<C extends ShopContext> {
  services: Record<C, TestService>;
  /** The stack's own NATS server: its streams hold only this stack's events. */
  natsUrl: string;
  stop(): Promise<void>;
}

export const downstreamOfOrders = ["catalog", "inventory", "payments", "shipping"] as const;

type CheckoutContext = (typeof downstreamOfOrders)[number] | "orders";

/**
 * Starts `others`, then `orders` wired to its downstream services, all on a NATS server of
 * their own; stops everything if any start fails.
 */
export async function startWithOrders<C extends ShopContext>(others: readonly C[]): Promise<TestStack<C | "orders">> {
  const dir = await mkdtemp(path.join(tmpdir(), "shop-pact-"));
  const started: TestService[] = [];
  let nats: NatsServer | undefined;
  let orders: TestService | undefined;
  const stop = async () => {
    // Orders first: its saga must not call services that are already gone.
    await orders?.stop();
    await Promise.all(started.map((service) => service.stop()));
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    nats = await NatsServer.start({ dir });
    const natsEnv = { NATS_URL: nats.url };
    const starts = await Promise.allSettled(others.map((context) => startTestService(context, natsEnv)));
    for (const start of starts) if (start.status === "fulfilled") started.push(start.value);
    const failure = starts.find((start) => start.status === "rejected");
    if (failure) throw failure.reason;
    const address = (context: ShopContext) => started.find((service) => service.context === context)!.address;
    orders = await startTestService("orders", {
      ...natsEnv,
      ...Object.fromEntries(downstreamOfOrders.map((context) => [`${envPrefix(context)}_ADDR`, address(context)])),
    });
    const services = Object.fromEntries([...started, orders].map((service) => [service.context, service])) as Record<
      C | "orders",
      TestService
    >;
    return { services, natsUrl: nats.url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Orders and the services its checkout calls: the checkout saga runs for real. */
export const startCheckout = (): Promise<TestStack<CheckoutContext>> => startWithOrders(downstreamOfOrders);
