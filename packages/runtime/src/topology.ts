import type { ShopContext } from "@shop/contracts";

/** Default ports of every service; each overridable by env. */
export const topology: Record<ShopContext, { port: number; metricsPort: number }> = {
  users: { port: 50051, metricsPort: 9451 },
  catalog: { port: 50052, metricsPort: 9452 },
  inventory: { port: 50053, metricsPort: 9453 },
  orders: { port: 50054, metricsPort: 9454 },
  payments: { port: 50055, metricsPort: 9455 },
  shipping: { port: 50056, metricsPort: 9456 },
  notifications: { port: 50057, metricsPort: 9457 },
};

export const contexts = Object.keys(topology) as ShopContext[];

export const envPrefix = (context: ShopContext): string => context.toUpperCase();

/** The `host:port` where a service is reached: `<CONTEXT>_ADDR`, else loopback and its default port. */
export function serviceAddress(context: ShopContext, source: NodeJS.ProcessEnv = process.env): string {
  return source[`${envPrefix(context)}_ADDR`] ?? `127.0.0.1:${source[`${envPrefix(context)}_PORT`] ?? topology[context].port}`;
}

export const defaultPostgresUrl = "postgresql://postgres@127.0.0.1:5432";

/** The database URL of a service: `<CONTEXT>_DATABASE_URL`, else `shop_<context>` on POSTGRES_URL. */
export function databaseUrl(context: ShopContext, source: NodeJS.ProcessEnv = process.env): string {
  const explicit = source[`${envPrefix(context)}_DATABASE_URL`];
  if (explicit) return explicit;
  const base = new URL(source.POSTGRES_URL ?? defaultPostgresUrl);
  base.pathname = `/shop_${context}`;
  return base.toString();
}

/** Where NATS is when `NATS_URL` does not say: the local server `npm start` and `npm test` use. */
export const defaultNatsUrl = "nats://127.0.0.1:4222";
