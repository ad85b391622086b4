import { randomBytes, randomUUID } from "node:crypto";
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { OrderService, OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { createServiceClient } from "@shop/runtime";
import { adminHeaders, callerHeaders, waitFor } from "@shop/runtime/testing";
import { shippingAddress } from "./checkout.js";
import { eventFromOutbox, type ProducedMessage } from "./events.js";
import { startCheckout } from "./stack.js";

/** The provider states that name a checkout, as the consumers of order events record them. */
export const checkoutStates = {
  completed: "a customer completed a checkout",
  declined: "a customer's card was declined at checkout",
} as const;

export interface CheckoutEventSource {
  /** Runs a real checkout for each state, through orders' API and its saga. */
  stateHandlers: Record<string, () => Promise<void>>;
  /** The event of `schema` the orders service wrote for the last checkout. */
  eventOf<S extends DescMessage>(schema: S): () => Promise<ProducedMessage>;
  stop(): Promise<void>;
}

/**
 * The orders service with the real services its checkout calls: order events come out of
 * its own saga, as in production, for consumers' message pacts to be verified against.
 */
export async function startCheckoutEventSource(): Promise<CheckoutEventSource> {
  const stack = await startCheckout();
  const address = (context: keyof typeof stack.services) => ({ address: stack.services[context].address });
  const catalog = createServiceClient(CatalogService, address("catalog"));
  const inventory = createServiceClient(InventoryService, address("inventory"));
  const orders = createServiceClient(OrderService, address("orders"));
  const admin = { headers: adminHeaders() };
  let lastOrder: string | undefined;

  const checkout = async (paymentToken: string, settled: OrderStatus) => {
    const sku = `PACT-${randomBytes(4).toString("hex").toUpperCase()}`;
    const { product } = await catalog.createProduct(
      { sku, name: "Mug", description: "", price: { currencyCode: "USD", amountMinor: 1299n } },
      admin,
    );
    await inventory.setStock({ productId: product!.id, quantity: 5 }, admin);
    const customer = { headers: callerHeaders(randomUUID()) };
    const { order } = await orders.placeOrder(
      { items: [{ productId: product!.id, quantity: 2 }], shippingAddress, paymentToken },
      customer,
    );
    await waitFor(
      async () => (await orders.getOrder({ orderId: order!.id }, customer)).order?.status,
      (status) => status === settled,
      { what: `order ${order!.id} to be ${OrderStatus[settled]}` },
    );
    lastOrder = order!.id;
  };

  return {
    stateHandlers: {
      [checkoutStates.completed]: () => checkout("tok_visa", OrderStatus.CONFIRMED),
      [checkoutStates.declined]: () => checkout("tok_decline", OrderStatus.CANCELLED),
    },
    eventOf:
      <S extends DescMessage>(schema: S) =>
      () =>
        eventFromOutbox(
          stack.services.orders.databaseUrl,
          schema,
          (event: MessageShape<S>) => (event as { orderId?: string }).orderId === lastOrder,
        ),
    async stop() {
      for (const client of [catalog, inventory, orders]) client.close();
      await stack.stop();
    },
  };
}
