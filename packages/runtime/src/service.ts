import type { Server } from "node:http";
import type { ShopContext } from "@shop/contracts";
import {
  createTokenVerifier,
  type ServiceCredential,
  serviceCredentialFrom,
  type TokenSettings,
  tokenSettingsOf,
  tokenSpec,
} from "./auth/tokens.js";
import { ConfigError, type ConfigOf, type EnvVar, env, loadConfig } from "./config.js";
import { prepareDatabase } from "./db.js";
import { natsUrlVariable } from "./events/publishing.js";
import { defaultEventRetention, type EventRetention, startEventRetention } from "./events/retention.js";
import { streamLimits } from "./events/streams.js";
import { type RunningGrpcServer, type ServiceRegistration, startGrpcServer } from "./grpc-server.js";
import { createLogger, type Logger, logLevels } from "./logger.js";
import { serveMetrics } from "./metrics.js";
import { createSqlDatabase, defaultDatabasePoolSize, type SqlDatabase } from "./sql.js";
import { databaseUrl, envPrefix, topology } from "./topology.js";
import { initTracing, shutdownTracing } from "./tracing.js";

export interface BaseServiceConfig {
  /** Public keys and issuers the credentials of incoming calls are verified against. */
  tokens: TokenSettings;
  /** What this service presents when it calls other services, if it calls any. */
  credential?: ServiceCredential;
  host: string;
  port: number;
  metricsPort: number;
  databaseUrl: string;
  databasePoolSize: number;
  /** Timeouts and the bounded wait for connections of the database pool. */
  database: { connectTimeoutMs: number; statementTimeoutMs: number; maxQueued: number };
  natsUrl: string;
  logLevel: string;
  shutdownGraceMs: number;
  /** How long sent outbox rows and inbox rows are kept, and how often they are pruned. */
  eventRetention: EventRetention;
}

/**
 * The variables every service reads, under its own prefix (`CATALOG_PORT`, ...), plus `extra`.
 * A service that calls others says so with `callsOthers` (what for), and then needs a credential.
 */
export function loadServiceConfig<S extends Record<string, EnvVar<unknown>>>(
  context: ShopContext,
  extra: S = {} as S,
  source: NodeJS.ProcessEnv = process.env,
  { callsOthers }: { callsOthers?: string } = {},
): BaseServiceConfig & ConfigOf<S> {
  const p = envPrefix(context);
  let credential: ServiceCredential | undefined;
  const problems: string[] = [];
  let streamMaxAgeHours = 168;
  try {
    streamMaxAgeHours = streamLimits(source).maxAgeMs / 3_600_000;
  } catch (err) {
    problems.push((err as Error).message);
  }
  try {
    credential = serviceCredentialFrom(source);
    if (!credential && callsOthers) problems.push(`SERVICE_TOKEN_FILE (or SERVICE_TOKEN) is required: ${context} ${callsOthers} with it`);
  } catch (err) {
    problems.push(`SERVICE_TOKEN_FILE cannot be read: ${(err as Error).message}`);
  }
  let base: Record<string, unknown> = {};
  try {
    base = loadConfig(
      {
        [`${p}_HOST`]: env.string("0.0.0.0"),
        [`${p}_PORT`]: env.port(topology[context].port),
        [`${p}_METRICS_PORT`]: env.port(topology[context].metricsPort),
        [`${p}_DATABASE_URL`]: env.connectionUrl(databaseUrl(context, source)),
        DATABASE_POOL_SIZE: env.int(defaultDatabasePoolSize, { min: 1, max: 200 }),
        DATABASE_CONNECT_TIMEOUT_MS: env.int(5_000, { min: 100 }),
        DATABASE_STATEMENT_TIMEOUT_MS: env.int(30_000, { min: 100 }),
        DATABASE_MAX_QUEUED: env.int(200, { min: 0 }),
        NATS_URL: natsUrlVariable,
        LOG_LEVEL: env.oneOf(logLevels, "info"),
        SHUTDOWN_GRACE_MS: env.int(10_000, { min: 0 }),
        OUTBOX_RETENTION_HOURS: env.int(defaultEventRetention.outboxMs / 3_600_000, { min: 1 }),
        // Inbox rows outlive the stream's events by a day, so no redelivery finds them gone.
        INBOX_RETENTION_HOURS: env.int(streamMaxAgeHours + 24, { min: 1 }),
        EVENT_PRUNE_INTERVAL_MS: env.int(defaultEventRetention.intervalMs, { min: 1_000 }),
        ...tokenSpec,
        ...extra,
      },
      source,
    ) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.unshift(...err.problems);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(base as ConfigOf<S>),
    tokens: tokenSettingsOf(base as ConfigOf<typeof tokenSpec>),
    credential,
    host: base[`${p}_HOST`] as string,
    port: base[`${p}_PORT`] as number,
    metricsPort: base[`${p}_METRICS_PORT`] as number,
    databaseUrl: base[`${p}_DATABASE_URL`] as string,
    databasePoolSize: base.DATABASE_POOL_SIZE as number,
    database: {
      connectTimeoutMs: base.DATABASE_CONNECT_TIMEOUT_MS as number,
      statementTimeoutMs: base.DATABASE_STATEMENT_TIMEOUT_MS as number,
      maxQueued: base.DATABASE_MAX_QUEUED as number,
    },
    natsUrl: base.NATS_URL as string,
    logLevel: base.LOG_LEVEL as string,
    shutdownGraceMs: base.SHUTDOWN_GRACE_MS as number,
    eventRetention: {
      outboxMs: (base.OUTBOX_RETENTION_HOURS as number) * 3_600_000,
      inboxMs: (base.INBOX_RETENTION_HOURS as number) * 3_600_000,
      intervalMs: base.EVENT_PRUNE_INTERVAL_MS as number,
    },
  };
}

/**
 * What an administrative command of a service reads (a rebuild, a check): its database, NATS and
 * log level, plus `extra`; none of a running service's listeners or credentials.
 */
export function loadToolConfig<S extends Record<string, EnvVar<unknown>>>(
  context: ShopContext,
  extra: S = {} as S,
  source: NodeJS.ProcessEnv = process.env,
): { databaseUrl: string; natsUrl: string; logLevel: string } & ConfigOf<S> {
  const p = envPrefix(context);
  const raw = loadConfig(
    {
      [`${p}_DATABASE_URL`]: env.connectionUrl(databaseUrl(context, source)),
      NATS_URL: natsUrlVariable,
      LOG_LEVEL: env.oneOf(logLevels, "info"),
      ...extra,
    },
    source,
  ) as Record<string, unknown>;
  return {
    ...(raw as ConfigOf<S>),
    databaseUrl: raw[`${p}_DATABASE_URL`] as string,
    natsUrl: raw.NATS_URL as string,
    logLevel: raw.LOG_LEVEL as string,
  };
}

export interface StartedParts {
  registrations: ServiceRegistration[];
  /** Runs after the gRPC server stopped taking calls (flush, close connections); the database closes after it. */
  stop?: () => Promise<void>;
}

/** What a service is built from: its settings, its logger and its own database. */
export interface ServiceDeps<C extends BaseServiceConfig> {
  config: C;
  logger: Logger;
  db: SqlDatabase;
}

export interface ServiceDefinition<C extends BaseServiceConfig> {
  context: ShopContext;
  /** Folder of the service (holds prisma/). */
  serviceDir: string;
  config: C;
  logger?: Logger;
  start(deps: ServiceDeps<C>): Promise<StartedParts>;
}

export interface RunningService {
  grpc: RunningGrpcServer;
  logger: Logger;
  stop(): Promise<void>;
}

/** Migrates the database, builds the handlers and serves them; no signal handling (tests use this). */
export async function startService<C extends BaseServiceConfig>(definition: ServiceDefinition<C>): Promise<RunningService> {
  const { config, context } = definition;
  const logger = definition.logger ?? createLogger(context, config.logLevel);
  const applied = await prepareDatabase(definition.serviceDir, config.databaseUrl);
  if (applied.length > 0) logger.info({ migrations: applied }, "database migrated");
  const db = createSqlDatabase(config.databaseUrl, { poolSize: config.databasePoolSize, ...config.database, logger });
  let parts: StartedParts | undefined;
  let grpc: RunningGrpcServer | undefined;
  let metrics: Server | undefined;
  const retention = startEventRetention(db, config.eventRetention, logger);
  try {
    parts = await definition.start({ config, logger, db });
    grpc = await startGrpcServer({
      registrations: parts.registrations,
      logger,
      tokens: createTokenVerifier(config.tokens),
      host: config.host,
      port: config.port,
    });
    if (config.metricsPort > 0) metrics = await serveMetrics(config.metricsPort, config.host);
  } catch (err) {
    await grpc?.shutdown(0);
    await parts?.stop?.();
    await retention.stop();
    await db.close();
    throw err;
  }
  logger.info({ port: grpc.port, metricsPort: config.metricsPort || undefined }, `${context} serving gRPC`);
  let stopping: Promise<void> | undefined;
  return {
    grpc,
    logger,
    stop() {
      stopping ??= (async () => {
        await grpc.shutdown(config.shutdownGraceMs);
        await parts.stop?.();
        await retention.stop();
        await db.close();
        await new Promise<void>((resolve) => (metrics ? metrics.close(() => resolve()) : resolve()));
        await shutdownTracing();
      })();
      return stopping;
    },
  };
}

/** Entry point of a service process: starts it, and shuts it down gracefully on SIGTERM/SIGINT. */
export async function runService<C extends BaseServiceConfig>(load: () => ServiceDefinition<C>): Promise<void> {
  let definition: ServiceDefinition<C>;
  try {
    definition = load();
    initTracing(definition.context);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const logger = definition.logger ?? createLogger(definition.context, definition.config.logLevel);
  process.on("unhandledRejection", (err) => {
    logger.fatal({ err }, "unhandled rejection");
    process.exit(1);
  });
  let running: RunningService;
  try {
    running = await startService({ ...definition, logger });
  } catch (err) {
    logger.fatal({ err }, "failed to start");
    process.exit(1);
  }
  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    running.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}
