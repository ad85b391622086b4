import type { ShopContext } from "@shop/contracts";
import {
  ConfigError,
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
import { trustedProxyList } from "./http/request-meta.js";

const gatewaySpec = {
  GATEWAY_HOST: env.string("0.0.0.0"),
  GATEWAY_PORT: env.port(8080),
  GATEWAY_BODY_LIMIT_BYTES: env.int(1024 * 1024, { min: 1 }),
  GATEWAY_CORS_ORIGINS: env.list([]),
  GATEWAY_RATE_LIMIT_CAPACITY: env.int(100, { min: 1 }),
  GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: env.int(50, { min: 1 }),
  GATEWAY_RATE_LIMIT_MAX_CLIENTS: env.int(100_000, { min: 1 }),
  GATEWAY_FAILED_AUTH_COST: env.int(10, { min: 1 }),
  GATEWAY_TRUSTED_PROXIES: env.list([]),
  GATEWAY_HEADERS_TIMEOUT_MS: env.int(10_000, { min: 100 }),
  GATEWAY_REQUEST_TIMEOUT_MS: env.int(30_000, { min: 100 }),
  GATEWAY_KEEP_ALIVE_TIMEOUT_MS: env.int(5_000, { min: 100 }),
  GATEWAY_MAX_HEADER_BYTES: env.int(16 * 1024, { min: 1024, max: 1024 * 1024 }),
  GATEWAY_MAX_CONNECTIONS: env.int(10_000, { min: 1 }),
  GATEWAY_SHUTDOWN_GRACE_MS: env.int(10_000, { min: 0 }),
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
  /** Token buckets per user, else per client address; `maxClients` bounds the buckets kept. */
  rateLimit: { capacity: number; refillPerSecond: number; maxClients: number };
  /** What a request with a credential that fails verification spends of its address's bucket. */
  failedAuthCost: number;
  /**
   * Addresses or CIDR ranges of the proxies in front of the gateway: from a connection of theirs,
   * the client is the rightmost X-Forwarded-For hop that is not one of them.
   */
  trustedProxies: string[];
  /** Limits of the HTTP server: slow clients, large headers, open connections, shutdown. */
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxHeaderBytes: number;
    maxConnections: number;
    shutdownGraceMs: number;
  };
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
  if (source.GATEWAY_TRUST_PROXY !== undefined) {
    throw new ConfigError([
      "GATEWAY_TRUST_PROXY is no longer read: list the addresses or CIDR ranges of your proxies in GATEWAY_TRUSTED_PROXIES",
    ]);
  }
  const raw = loadConfig(gatewaySpec, source);
  try {
    trustedProxyList(raw.GATEWAY_TRUSTED_PROXIES);
  } catch (err) {
    throw new ConfigError([`GATEWAY_TRUSTED_PROXIES ${(err as Error).message}`]);
  }
  return {
    host: raw.GATEWAY_HOST,
    port: raw.GATEWAY_PORT,
    bodyLimitBytes: raw.GATEWAY_BODY_LIMIT_BYTES,
    corsOrigins: raw.GATEWAY_CORS_ORIGINS,
    rateLimit: {
      capacity: raw.GATEWAY_RATE_LIMIT_CAPACITY,
      refillPerSecond: raw.GATEWAY_RATE_LIMIT_REFILL_PER_SECOND,
      maxClients: raw.GATEWAY_RATE_LIMIT_MAX_CLIENTS,
    },
    failedAuthCost: raw.GATEWAY_FAILED_AUTH_COST,
    trustedProxies: raw.GATEWAY_TRUSTED_PROXIES,
    http: {
      headersTimeoutMs: raw.GATEWAY_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: raw.GATEWAY_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: raw.GATEWAY_KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderBytes: raw.GATEWAY_MAX_HEADER_BYTES,
      maxConnections: raw.GATEWAY_MAX_CONNECTIONS,
      shutdownGraceMs: raw.GATEWAY_SHUTDOWN_GRACE_MS,
    },
    upstreamTimeoutMs: raw.GATEWAY_UPSTREAM_TIMEOUT_MS,
    contractCheckIntervalMs: raw.GATEWAY_CONTRACT_CHECK_INTERVAL_MS,
    idempotencyTtlSeconds: raw.GATEWAY_IDEMPOTENCY_TTL_SECONDS,
    natsUrl: raw.NATS_URL,
    logLevel: raw.LOG_LEVEL,
    tokens: tokenSettingsOf(raw),
    upstreams: Object.fromEntries(contexts.map((context) => [context, serviceAddress(context, source)])) as Record<ShopContext, string>,
  };
}
