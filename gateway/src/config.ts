import type { ShopContext } from "@shop/contracts";
import {
  contexts,
  env,
  loadConfig,
  logLevels,
  natsUrlVariable,
  serviceAddress,
  type TokenSettings,
  tokenSettingsOf,
  tokenSpec,
} from "@shop/runtime";

const gatewaySpec = {
  GATEWAY_HOST: env.string("0.0.0.0"),
  GATEWAY_PORT: env.port(8080),
  GATEWAY_BODY_LIMIT_BYTES: env.int(1024 * 1024, { min: 1 }),
  GATEWAY_CORS_ORIGINS: env.list([]),
  GATEWAY_RATE_LIMIT_CAPACITY: env.int(100, { min: 1 }),
  GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: env.int(50, { min: 1 }),
  GATEWAY_TRUST_PROXY: env.bool(false),
  GATEWAY_UPSTREAM_TIMEOUT_MS: env.int(10_000, { min: 1 }),
  GATEWAY_CONTRACT_CHECK_INTERVAL_MS: env.int(30_000, { min: 100 }),
  GATEWAY_IDEMPOTENCY_TTL_SECONDS: env.int(86_400, { min: 1 }),
  NATS_URL: natsUrlVariable,
  LOG_LEVEL: env.oneOf(logLevels, "info"),
  ...tokenSpec,
};

export interface GatewayConfig {
  host: string;
  port: number;
  /** Largest request body accepted, in bytes (413 above). */
  bodyLimitBytes: number;
  /** Origins allowed to call from a browser; `*` allows any. */
  corsOrigins: string[];
  rateLimit: { capacity: number; refillPerSecond: number };
  /** Take the client address from X-Forwarded-For (behind a trusted load balancer only). */
  trustProxy: boolean;
  /** Deadline of every upstream call, and the cap on a deadline the client asks for. */
  upstreamTimeoutMs: number;
  contractCheckIntervalMs: number;
  idempotencyTtlSeconds: number;
  natsUrl: string;
  logLevel: string;
  tokens: TokenSettings;
  /** `host:port` of every service the gateway may call. */
  upstreams: Record<ShopContext, string>;
}

export function loadGatewayConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const raw = loadConfig(gatewaySpec, source);
  return {
    host: raw.GATEWAY_HOST,
    port: raw.GATEWAY_PORT,
    bodyLimitBytes: raw.GATEWAY_BODY_LIMIT_BYTES,
    corsOrigins: raw.GATEWAY_CORS_ORIGINS,
    rateLimit: { capacity: raw.GATEWAY_RATE_LIMIT_CAPACITY, refillPerSecond: raw.GATEWAY_RATE_LIMIT_REFILL_PER_SECOND },
    trustProxy: raw.GATEWAY_TRUST_PROXY,
    upstreamTimeoutMs: raw.GATEWAY_UPSTREAM_TIMEOUT_MS,
    contractCheckIntervalMs: raw.GATEWAY_CONTRACT_CHECK_INTERVAL_MS,
    idempotencyTtlSeconds: raw.GATEWAY_IDEMPOTENCY_TTL_SECONDS,
    natsUrl: raw.NATS_URL,
    logLevel: raw.LOG_LEVEL,
    tokens: tokenSettingsOf(raw),
    upstreams: Object.fromEntries(contexts.map((context) => [context, serviceAddress(context, source)])) as Record<ShopContext, string>,
  };
}
