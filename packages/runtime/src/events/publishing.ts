import type { ShopContext } from "@shop/contracts";
import { type ConnectionOptions, connect, type NatsConnection } from "nats";
import { type EnvVar, env, productionRefuses } from "../config.js";
import type { Logger } from "../logger.js";
import type { SqlDatabase } from "../sql.js";
import { defaultNatsUrl } from "../topology.js";
import { type OutboxRelay, type OutboxRelayOptions, startOutboxRelay } from "./outbox-relay.js";
import { ensureStreams } from "./streams.js";

/**
 * `NATS_URL`: one server or a comma-separated list, each `nats://[user:password@]host:port`. The
 * credentials in it are the process's NATS user, whose permissions the server limits to the
 * subjects it publishes and consumes; production refuses a URL without them.
 */
export const natsUrlVariable: EnvVar<string> = productionRefuses(env.string(defaultNatsUrl), (value) =>
  natsConnectOptions(value).user === undefined ? "names no user, and production connects to NATS only with credentials" : undefined,
);

/** Servers and credentials of a `NATS_URL`, as the client takes them (it reads no credentials from URLs). */
export function natsConnectOptions(natsUrl: string): Pick<ConnectionOptions, "servers" | "user" | "pass"> {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = natsUrl
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const url = new URL(entry.includes("://") ? entry : `nats://${entry}`);
      if (url.username) {
        user = decodeURIComponent(url.username);
        pass = decodeURIComponent(url.password);
      }
      return `${url.protocol}//${url.host}`;
    });
  return { servers, ...(user === undefined ? {} : { user, pass }) };
}

/**
 * A NATS connection for a service. It reconnects for ever: an outage must not end the process's
 * event work. Requests (every JetStream publish is one) skip capturing the caller's stack, which
 * cost more than the publish itself; a timeout still says what timed out.
 */
export function connectNats(name: string, natsUrl: string): Promise<NatsConnection> {
  return connect({ ...natsConnectOptions(natsUrl), name, maxReconnectAttempts: -1, noAsyncTraces: true });
}

export interface EventPublishing {
  nc: NatsConnection;
  relay: OutboxRelay;
  /** Stops the relay after flushing what is pending, then drains the connection. */
  stop(): Promise<void>;
}

/**
 * Everything a service that emits events runs: its NATS connection, its stream, and the
 * relay that publishes its outbox.
 */
export async function startEventPublishing(options: {
  context: ShopContext;
  natsUrl: string;
  db: SqlDatabase;
  logger: Logger;
  relay?: Partial<Omit<OutboxRelayOptions, "db" | "nc" | "logger">>;
}): Promise<EventPublishing> {
  const nc = await connectNats(options.context, options.natsUrl);
  try {
    await ensureStreams(await nc.jetstreamManager(), [options.context]);
  } catch (err) {
    await nc.close();
    throw err;
  }
  const relay = startOutboxRelay({ ...options.relay, db: options.db, nc, logger: options.logger });
  return {
    nc,
    relay,
    async stop() {
      await relay.stop();
      await nc.drain();
    },
  };
}
