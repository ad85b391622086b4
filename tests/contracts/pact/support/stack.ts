import type { ShopContext } from "@shop/contracts";
import { envPrefix } from "@shop/runtime";
import { startTestService, type TestService } from "./services.js";

export interface TestStack<C extends ShopContext> {
  services: Record<C, TestService>;
  stop(): Promise<void>;
}

export const downstreamOfOrders = ["catalog", "inventory", "payments", "shipping"] as const;

type CheckoutContext = (typeof downstreamOfOrders)[number] | "orders";

/** Starts `orders` after `others`, wired to its downstream services; stops everything if any start fails. */
export async function startWithOrders<C extends ShopContext>(others: readonly C[]): Promise<TestStack<C | "orders">> {
  const started: TestService[] = [];
  let orders: TestService | undefined;
  const stop = async () => {
    // Orders first: its saga must not call services that are already gone.
    await orders?.stop();
    await Promise.all(started.map((service) => service.stop()));
  };
  try {
    const starts = await Promise.allSettled(others.map((context) => startTestService(context)));
    for (const start of starts) if (start.status === "fulfilled") started.push(start.value);
    const failure = starts.find((start) => start.status === "rejected");
    if (failure) throw failure.reason;
    const address = (context: ShopContext) => started.find((service) => service.context === context)!.address;
    orders = await startTestService("orders", Object.fromEntries(downstreamOfOrders.map((context) => [`${envPrefix(context)}_ADDR`, address(context)])));
    const services = Object.fromEntries([...started, orders].map((service) => [service.context, service])) as Record<C | "orders", TestService>;
    return { services, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Orders and the services its checkout calls: the checkout saga runs for real. */
export const startCheckout = (): Promise<TestStack<CheckoutContext>> => startWithOrders(downstreamOfOrders);
