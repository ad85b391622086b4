import path from "node:path";
import type { DescService, JsonObject } from "@bufbuild/protobuf";
import type { ShopContext } from "@shop/contracts";
import { CatalogService } from "@shop/contracts/shop/catalog/v1/catalog_pb.js";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { UserService } from "@shop/contracts/shop/users/v1/users_pb.js";
import { demoProducts, type BaseServiceConfig, type StartedParts, type Logger } from "@shop/runtime";
import { startTestService } from "@shop/runtime/testing";
import { loadCatalogConfig } from "../../services/catalog/src/config.js";
import { buildCatalog } from "../../services/catalog/src/server.js";
import { loadInventoryConfig } from "../../services/inventory/src/config.js";
import { buildInventory } from "../../services/inventory/src/server.js";
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
  /** Starts the service in-process on port 0 with a fresh database of its own. */
  start(): Promise<StartedService>;
}

export interface StartedService {
  port: number;
  stop(): Promise<void>;
}

interface ServiceEntry<C extends BaseServiceConfig> extends Omit<ServiceUnderTest, "start"> {
  loadConfig(source: NodeJS.ProcessEnv): C;
  build(deps: { config: C; logger: Logger }): Promise<StartedParts>;
  /** Service-specific variables on top of host, ports, database and log level. */
  env?: NodeJS.ProcessEnv;
}

const servicesDir = path.resolve(import.meta.dirname, "../../services");

function serviceUnderTest<C extends BaseServiceConfig>({ loadConfig, build, env, ...entry }: ServiceEntry<C>): ServiceUnderTest {
  return {
    ...entry,
    async start() {
      const service = await startTestService(servicesDir, entry.context, loadConfig, build, { env: env as Record<string, string> });
      return { port: service.running.grpc.port, stop: () => service.stop() };
    },
  };
}

const demoProduct = demoProducts[0];
const unknownId = "00000000-0000-4000-8000-000000000000";
const admin = { "x-user-id": "7f3c2a10-5b8e-4d4f-9a61-2c0d9e8b1a01", "x-user-role": "admin" };
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
        messageContains: "authentication",
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
      { method: "RegisterUser", request: { email: "not-an-email", name: "x", password: "long-enough" }, code: "INVALID_ARGUMENT", messageContains: "email" },
      { method: "GetUser", request: { userId: unknownId }, metadata: admin, code: "NOT_FOUND", messageContains: unknownId },
      { method: "GetUser", request: { userId: unknownId }, code: "UNAUTHENTICATED", messageContains: "authentication" },
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
      { method: "GetReservation", request: { orderId: unknownId }, code: "NOT_FOUND", messageContains: unknownId },
      { method: "SetStock", request: { productId: demoProduct.id, quantity: 1 }, code: "UNAUTHENTICATED", messageContains: "authentication" },
    ],
  }),
];
