import { env, loadServiceConfig } from "@shop/runtime";

export const loadInventoryConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig("inventory", { SEED_DEMO_DATA: env.bool(true) }, source);

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;
