import { env, loadServiceConfig } from "@shop/runtime";

export const loadCatalogConfig = (source: NodeJS.ProcessEnv = process.env) =>
  loadServiceConfig("catalog", { SEED_DEMO_DATA: env.bool(true) }, source);

export type CatalogConfig = ReturnType<typeof loadCatalogConfig>;
