import { randomBytes, randomUUID } from "node:crypto";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { NotificationService } from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { OrderService, OrderStatus } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { createServiceClient } from "@shop/runtime";
import { adminHeaders, callerHeaders, waitFor } from "@shop/runtime/testing";
import { shippingAddress } from "./checkout.js";
import type { TestSystem } from "./system.js";

/** The provider states the storefront's pact names; both sides use these constants. */
export const storefrontStates = {
  registered: "a customer is registered",
  emailTaken: "a customer is registered with the email",
  signedIn: "a customer is signed in",
  catalogHasProducts: "the catalog has three products",
  productInStock: "a product is in stock",
  readyToOrder: "a signed-in customer and a product in stock",
  confirmedOrder: "a signed-in customer has a confirmed order",
} as const;

export type StorefrontState = (typeof storefrontStates)[keyof typeof storefrontStates];

/** What each state returns for the pact's `fromProviderState` expressions (`${accessToken}`, ...). */
type StateHandler = (params?: unknown) => Promise<Record<string, string>>;

export interface StorefrontStateHandlers {
  handlers: Record<StorefrontState, StateHandler>;
  close(): void;
}

/**
 * Sets up each state through the services' own APIs, as their clients would: an account
 * registered and signed in with users, products created and stocked by an admin, orders placed
 * with orders and run to CONFIRMED by the real checkout saga.
 */
export function storefrontStateHandlers(system: TestSystem): StorefrontStateHandlers {
  const at = (context: keyof TestSystem["services"]) => ({ address: system.services[context].address });
  const users = createServiceClient(UserService, at("users"));
  const catalog = createServiceClient(CatalogService, at("catalog"));
  const inventory = createServiceClient(InventoryService, at("inventory"));
  const orders = createServiceClient(OrderService, at("orders"));
  const notifications = createServiceClient(NotificationService, at("notifications"));
  const admin = { headers: adminHeaders() };

  const register = async (email = `customer-${randomUUID()}@example.com`, password = "correct-horse-battery") => {
    const { user } = await users.registerUser({ email, name: "Ada Lovelace", password });
    return { userId: user!.id, email, password };
  };

  const signIn = async () => {
    const { userId, email, password } = await register();
    const { accessToken } = await users.createToken({ email, password });
    return { userId, accessToken };
  };

  const stockedProduct = async (available: number) => {
    const sku = `PACT-${randomBytes(4).toString("hex").toUpperCase()}`;
    const { product } = await catalog.createProduct(
      { sku, name: "Mug", description: "A mug", price: { currencyCode: "USD", amountMinor: 1299n } },
      admin,
    );
    await inventory.setStock({ productId: product!.id, quantity: available }, admin);
    return product!.id;
  };

  /** An order run by the real saga to CONFIRMED, once the history and the notifications show it too. */
  const confirmedOrder = async (userId: string) => {
    const productId = await stockedProduct(5);
    const customer = { headers: callerHeaders(userId) };
    const { order } = await orders.placeOrder({ items: [{ productId, quantity: 2 }], shippingAddress, paymentToken: "tok_visa" }, customer);
    const orderId = order!.id;
    await waitFor(
      async () => (await orders.getOrder({ orderId }, customer)).order?.status,
      (status) => status === OrderStatus.CONFIRMED,
      { what: `order ${orderId} to be confirmed`, timeoutMs: 20_000 },
    );
    // Order history and notifications are built from events: wait until both caught up.
    await waitFor(
      async () => (await orders.listOrders({ pageSize: 10 }, customer)).orders.find((listed) => listed.id === orderId)?.status,
      (status) => status === OrderStatus.CONFIRMED,
      { what: `order ${orderId} in the order history`, timeoutMs: 20_000 },
    );
    await waitFor(
      async () =>
        (await notifications.listNotifications({}, customer)).notifications.some((notification) => notification.orderId === orderId),
      (notified) => notified,
      { what: `a notification about order ${orderId}`, timeoutMs: 20_000 },
    );
    return orderId;
  };

  const handlers: Record<StorefrontState, StateHandler> = {
    [storefrontStates.registered]: async (params) => {
      const { email } = await register(undefined, (params as { password: string }).password);
      return { email };
    },
    [storefrontStates.emailTaken]: async (params) => {
      await register((params as { email: string }).email);
      return {};
    },
    [storefrontStates.signedIn]: signIn,
    [storefrontStates.catalogHasProducts]: async () => {
      for (let i = 0; i < 3; i++) await stockedProduct(1);
      return {};
    },
    [storefrontStates.productInStock]: async (params) => ({
      productId: await stockedProduct(Number((params as { available: string }).available)),
    }),
    [storefrontStates.readyToOrder]: async () => ({ ...(await signIn()), productId: await stockedProduct(5) }),
    [storefrontStates.confirmedOrder]: async () => {
      const customer = await signIn();
      return { ...customer, orderId: await confirmedOrder(customer.userId) };
    },
  };
  return {
    handlers,
    close() {
      for (const client of [users, catalog, inventory, orders, notifications]) client.close();
    },
  };
}
