import { loadServiceConfig, seedDemoDataVariable } from "@shop/runtime";

export const loadCatalogConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig("catalog", { SEED_DEMO_DATA: seedDemoDataVariable }, source);

export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
