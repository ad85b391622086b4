import { loadServiceConfig } from "@shop/runtime";

export const loadShippingConfig = (source: NodeJS.ProcessEnv = process.env) => loadServiceConfig("shipping", {}, source);

export type ShippingConfig = ReturnType<typeof loadShippingConfig>;
