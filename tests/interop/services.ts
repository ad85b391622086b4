import path from "node:path";
import type { DescService, JsonObject } from "@bufbuild/protobuf";
import type { ShopContext } from "@shop/contracts";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { NotificationService } from "@shop/contracts/shop/notifications/v1/notifications_pb.js";
import { OrderService } from "@shop/contracts/shop/orders/v1/orders_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { ShippingService } from "@shop/contracts/shop/shipping/v1/shipping_pb.js";
import { UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { type BaseServiceConfig, demoProducts, type ServiceDeps, type StartedParts } from "@shop/runtime";
import { adminHeaders, serviceHeaders, startTestService } from "@shop/runtime/testing";
import { loadCatalogConfig } from "../../services/catalog/src/config.js";
import { buildCatalog } from "../../services/catalog/src/server.js";
import { loadInventoryConfig } from "../../services/inventory/src/config.js";
import { buildInventory } from "../../services/inventory/src/server.js";
import { loadNotificationsConfig } from "../../services/notifications/src/config.js";
import { buildNotifications } from "../../services/notifications/src/server.js";
import { loadOrdersConfig } from "../../services/orders/src/config.js";
import { buildOrders } from "../../services/orders/src/server.js";
import { loadPaymentsConfig } from "../../services/payments/src/config.js";
import { buildPayments } from "../../services/payments/src/server.js";
import { loadShippingConfig } from "../../services/shipping/src/config.js";
import { buildShipping } from "../../services/shipping/src/server.js";
import { loadUsersConfig } from "../../services/users/src/config.js";
import { buildUsers } from "../../services/users/src/server.js";

/**
 * One call as an outside client writes it: method name and request in the canonical Protobuf
 * JSON of the contract, plus gRPC metadata. JSON keeps the table usable by every client
 * (a stock grpc-js client, `buf curl`).
 */
export interface InteropCall {
  method: string;
  request: JsonObject;
  metadata?: Record<string, string>;
}

export interface ExpectedSuccess extends InteropCall {
  /** A subset of the response, as JSON. */
  response: JsonObject;
}

export interface ExpectedFailure extends InteropCall {
  /** gRPC status name, e.g. `INVALID_ARGUMENT`. */
  code: string;
  /** Text the status message must contain (a field name, an id). */
  messageContains: string;
}

export interface ServiceUnderTest {
  context: ShopContext;
  service: DescService;
  success: ExpectedSuccess;
  failures: ExpectedFailure[];
  /** Starts the service in-process on port 0 with a fresh database of its own; `env` goes on top of its own. */
  start(env?: Record<string, string>): Promise<StartedService>;
}

export interface StartedService {
  port: number;
  stop(): Promise<void>;
}

interface ServiceEntry<C extends BaseServiceConfig> extends Omit<ServiceUnderTest, "start"> {
  loadConfig(source: NodeJS.ProcessEnv): C;
  build(deps: ServiceDeps<C>): Promise<StartedParts>;
  /** Service-specific variables on top of host, ports, database and log level. */
  env?: NodeJS.ProcessEnv;
}

const servicesDir = path.resolve(import.meta.dirname, "../../services");

function serviceUnderTest<C extends BaseServiceConfig>({ loadConfig, build, env, ...entry }: ServiceEntry<C>): ServiceUnderTest {
  return {
    ...entry,
    async start(extra = {}) {
      const service = await startTestService(servicesDir, entry.context, loadConfig, build, {
        env: { ...(env as Record<string, string>), ...extra },
      });
      return { port: service.running.grpc.port, stop: () => service.stop() };
    },
  };
}

const demoProduct = demoProducts[0];
const unknownId = "00000000-0000-4000-8000-000000000000";
const adminId = "7f3c2a10-5b8e-4d4f-9a61-2c0d9e8b1a01";
/** Credentials as metadata: an admin's access token, the orders service's own token. */
const admin = adminHeaders(adminId);
const orders = serviceHeaders("orders");
const seededAdmin = { email: "interop-admin@shop.test", password: "interop-password" };

/** Every service the interop tests call; adding a service is one entry. */
export const servicesUnderTest: ServiceUnderTest[] = [
  serviceUnderTest({
    context: "catalog",
    service: CatalogService,
    loadConfig: loadCatalogConfig,
    build: buildCatalog,
    env: { SEED_DEMO_DATA: "true" },
    success: {
      method: "GetProduct",
      request: { productId: demoProduct.id },
      response: { product: { id: demoProduct.id, sku: demoProduct.sku, price: { amountMinor: String(demoProduct.priceMinor) } } },
    },
    failures: [
      { method: "GetProduct", request: { productId: "not-a-uuid" }, code: "INVALID_ARGUMENT", messageContains: "productId" },
      { method: "GetProduct", request: { productId: unknownId }, code: "NOT_FOUND", messageContains: unknownId },
      {
        method: "CreateProduct",
        request: { sku: "INTEROP-1", name: "x", price: { currencyCode: "USD", amountMinor: "100" } },
        code: "UNAUTHENTICATED",
        messageContains: "requires a credential",
      },
    ],
  }),
  serviceUnderTest({
    context: "users",
    service: UserService,
    loadConfig: loadUsersConfig,
    build: buildUsers,
    env: { ADMIN_EMAIL: seededAdmin.email, ADMIN_PASSWORD: seededAdmin.password },
    success: { method: "CreateToken", request: seededAdmin, response: { tokenType: "Bearer" } },
    failures: [
      {
        method: "RegisterUser",
        request: { email: "not-an-email", name: "x", password: "long-enough" },
        code: "INVALID_ARGUMENT",
        messageContains: "email",
      },
      { method: "GetUser", request: { userId: unknownId }, metadata: admin, code: "NOT_FOUND", messageContains: unknownId },
      { method: "GetUser", request: { userId: unknownId }, code: "UNAUTHENTICATED", messageContains: "requires a credential" },
    ],
  }),
  serviceUnderTest({
    context: "inventory",
    service: InventoryService,
    loadConfig: loadInventoryConfig,
    build: buildInventory,
    env: { SEED_DEMO_DATA: "true" },
    success: {
      method: "GetStock",
      request: { productId: demoProduct.id },
      response: { stock: { productId: demoProduct.id, available: demoProduct.stock } },
    },
    failures: [
      { method: "GetStock", request: { productId: "not-a-uuid" }, code: "INVALID_ARGUMENT", messageContains: "productId" },
      { method: "GetReservation", request: { orderId: unknownId }, metadata: orders, code: "NOT_FOUND", messageContains: unknownId },
      {
        method: "ReserveStock",
        request: { orderId: unknownId, items: [] },
        code: "UNAUTHENTICATED",
        messageContains: "requires a credential",
      },
      {
        method: "SetStock",
        request: { productId: demoProduct.id, quantity: 1 },
        code: "UNAUTHENTICATED",
        messageContains: "requires a credential",
      },
    ],
  }),
  serviceUnderTest({
    context: "payments",
    service: PaymentService,
    loadConfig: loadPaymentsConfig,
    build: buildPayments,
    success: {
      method: "AuthorizePayment",
      metadata: orders,
      request: {
        orderId: "3d8e6a52-6f0a-4e8b-9f43-1b7c2d9e4a10",
        userId: adminId,
        amount: { currencyCode: "USD", amountMinor: "1299" },
        paymentToken: "tok_visa",
      },
      response: { payment: { orderId: "3d8e6a52-6f0a-4e8b-9f43-1b7c2d9e4a10", status: "PAYMENT_STATUS_AUTHORIZED" } },
    },
    failures: [
      {
        method: "AuthorizePayment",
        request: { orderId: unknownId, userId: unknownId, paymentToken: "visa" },
        metadata: orders,
        code: "INVALID_ARGUMENT",
        messageContains: "amount",
      },
      { method: "GetPayment", request: { orderId: unknownId }, metadata: orders, code: "NOT_FOUND", messageContains: unknownId },
      { method: "CapturePayment", request: { orderId: unknownId }, metadata: orders, code: "NOT_FOUND", messageContains: unknownId },
      {
        method: "RefundPayment",
        request: { orderId: unknownId },
        metadata: admin,
        code: "PERMISSION_DENIED",
        messageContains: "may not call shop.payments.v1.PaymentService/RefundPayment",
      },
    ],
  }),
  serviceUnderTest({
    context: "shipping",
    service: ShippingService,
    loadConfig: loadShippingConfig,
    build: buildShipping,
    success: {
      method: "CancelShipment",
      metadata: orders,
      request: { orderId: "5a1f0c3e-2b7d-4c9a-8e6f-0d4b3a2c1e90" },
      response: { shipment: { orderId: "5a1f0c3e-2b7d-4c9a-8e6f-0d4b3a2c1e90", status: "SHIPMENT_STATUS_CANCELLED" } },
    },
    failures: [
      {
        method: "CreateShipment",
        request: { orderId: "nope", userId: unknownId },
        metadata: orders,
        code: "INVALID_ARGUMENT",
        messageContains: "orderId",
      },
      { method: "DispatchShipment", request: { orderId: unknownId }, metadata: admin, code: "NOT_FOUND", messageContains: unknownId },
      { method: "GetShipment", request: { orderId: unknownId }, code: "UNAUTHENTICATED", messageContains: "requires a credential" },
    ],
  }),
  serviceUnderTest({
    context: "orders",
    service: OrderService,
    loadConfig: loadOrdersConfig,
    build: buildOrders,
    // A fresh database: an empty first page (JSON omits empty fields), decoded from the wire.
    success: { method: "ListOrders", request: { pageSize: 5 }, metadata: admin, response: {} },
    failures: [
      { method: "ListOrders", request: { pageSize: 500 }, metadata: admin, code: "INVALID_ARGUMENT", messageContains: "pageSize" },
      { method: "GetOrder", request: { orderId: unknownId }, metadata: admin, code: "NOT_FOUND", messageContains: unknownId },
      { method: "ListOrders", request: {}, code: "UNAUTHENTICATED", messageContains: "requires a credential" },
    ],
  }),
  serviceUnderTest({
    context: "notifications",
    service: NotificationService,
    loadConfig: loadNotificationsConfig,
    build: buildNotifications,
    success: { method: "ListNotifications", request: { pageSize: 5 }, metadata: admin, response: {} },
    failures: [
      {
        method: "ListNotifications",
        request: { pageToken: "!!" },
        metadata: admin,
        code: "INVALID_ARGUMENT",
        messageContains: "pageToken",
      },
      { method: "ListNotifications", request: { pageSize: 101 }, metadata: admin, code: "INVALID_ARGUMENT", messageContains: "pageSize" },
      { method: "ListNotifications", request: {}, code: "UNAUTHENTICATED", messageContains: "requires a credential" },
    ],
  }),
];
