import type { ShopContext } from "@shop/contracts";
import { connect, type NatsConnection } from "nats";
import type { Logger } from "../logger.js";
import type { SqlDatabase } from "../sql.js";
import { type OutboxRelay, type OutboxRelayOptions, startOutboxRelay } from "./outbox-relay.js";
import { ensureStreams } from "./streams.js";

/**
 * A NATS connection for a service. It reconnects for ever: an outage must not end the process's
 * event work. Requests (every JetStream publish is one) skip capturing the caller's stack, which
 * cost more than the publish itself; a timeout still says what timed out.
 */
export function connectNats(name: string, natsUrl: string): Promise<NatsConnection> {
  return connect({ servers: natsUrl, name, maxReconnectAttempts: -1, noAsyncTraces: true });
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
