import { type JetStreamManager, type NatsError, nanos, RetentionPolicy, StorageType, type StreamConfig } from "nats";
import { deadLetterStream, streamName } from "./subjects.js";

/** How long JetStream remembers message ids to drop republished duplicates. */
export const duplicateWindowMs = 2 * 60_000;

/**
 * Copies JetStream keeps of each stream: 1 on a single server, 3 on a clustered NATS so a
 * stream survives losing a node (`NATS_STREAM_REPLICAS`, 1 to 5).
 */
export function streamReplicas(source: NodeJS.ProcessEnv = process.env): number {
  const value = Number(source.NATS_STREAM_REPLICAS ?? 1);
  if (!Number.isInteger(value) || value < 1 || value > 5) {
    throw new Error(`NATS_STREAM_REPLICAS must be an integer from 1 to 5, got "${source.NATS_STREAM_REPLICAS}"`);
  }
  return value;
}

const streamAlreadyInUse = 10058;
const streamNotFound = 10059;

/** The stream of one context: every `shop.<context>.*` event, kept on disk. */
export function contextStreamConfig(context: string): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(context),
    subjects: [`shop.${context}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(duplicateWindowMs),
    num_replicas: streamReplicas(),
  };
}

export function deadLetterStreamConfig(): Partial<StreamConfig> & { name: string } {
  return {
    name: deadLetterStream,
    subjects: ["shop.dead_letter.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    duplicate_window: nanos(duplicateWindowMs),
    num_replicas: streamReplicas(),
  };
}

function apiErrorCode(err: unknown): number | undefined {
  return (err as NatsError).api_error?.err_code;
}

/** Creates the stream, or brings an existing one to `config`; safe when replicas race. */
async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (err) {
    if (apiErrorCode(err) !== streamNotFound) throw err;
    try {
      await jsm.streams.add(config);
      return;
    } catch (addErr) {
      if (apiErrorCode(addErr) !== streamAlreadyInUse) throw addErr;
    }
  }
  await jsm.streams.update(config.name, config);
}

/**
 * Makes sure the stream of each context and the dead-letter stream exist with the shop's
 * configuration. Idempotent: every publisher and consumer calls it at start.
 */
export async function ensureStreams(jsm: JetStreamManager, contexts: readonly string[]): Promise<void> {
  for (const context of new Set(contexts)) await ensureStream(jsm, contextStreamConfig(context));
  await ensureStream(jsm, deadLetterStreamConfig());
}
