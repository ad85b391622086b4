import { loadServiceConfig, seedDemoDataVariable } from "@shop/runtime";

export const loadInventoryConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig("inventory", { SEED_DEMO_DATA: seedDemoDataVariable }, source);

export type InventoryConfig = ReturnType<typeof loadInventoryConfig>;
