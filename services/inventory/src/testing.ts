import { randomUUID } from "node:crypto";
import path from "node:path";
import { InventoryService } from "@shop/contracts/shop/inventory/v1/inventory_pb.js";
import { createServiceClient, startService } from "@shop/runtime";
import { adminHeaders, createTestDatabase, credentialsEnv, serviceCredential } from "@shop/runtime/testing";
import { loadInventoryConfig } from "./config.js";
import { buildInventory } from "./server.js";

export type InventoryClient = ReturnType<typeof createServiceClient<typeof InventoryService>>;

export interface TestInventory {
  /** Calls as the orders service does. */
  client: InventoryClient;
  /** Calls with no credential at all. */
  anonymous: InventoryClient;
  stop(): Promise<void>;
}

/** The inventory service on its own fresh database and a free port, with a client to it. */
export async function startTestInventory(): Promise<TestInventory> {
  const serviceDir = path.resolve(import.meta.dirname, "..");
  const db = await createTestDatabase("inventory", serviceDir);
  const config = loadInventoryConfig({
    ...credentialsEnv("inventory"),
    INVENTORY_HOST: "127.0.0.1",
    INVENTORY_PORT: "0",
    INVENTORY_METRICS_PORT: "0",
    INVENTORY_DATABASE_URL: db.url,
    SEED_DEMO_DATA: "true",
    LOG_LEVEL: "silent",
  });
  const service = await startService({ context: "inventory", serviceDir, config, start: buildInventory });
  const client = createServiceClient(InventoryService, { address: service.grpc.address, credential: serviceCredential("orders") });
  const anonymous = createServiceClient(InventoryService, { address: service.grpc.address });
  return {
    client,
    anonymous,
    async stop() {
      client.close();
      anonymous.close();
      await service.stop();
      await db.drop();
    },
  };
}

export const admin = { headers: adminHeaders() };

export { failureOf } from "@shop/runtime/testing";

/** A new product with `available` units in stock. */
export async function stockProduct(client: InventoryClient, available: number): Promise<string> {
  const productId = randomUUID();
  await client.setStock({ productId, quantity: available }, admin);
  return productId;
}

export async function stockLevels(client: InventoryClient, productId: string) {
  const { stock } = await client.getStock({ productId });
  return { available: stock!.available, reserved: stock!.reserved, committed: stock!.committed };
}
