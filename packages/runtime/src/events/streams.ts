import { DiscardPolicy, type JetStreamManager, type NatsError, nanos, RetentionPolicy, StorageType, type StreamConfig } from "nats";
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

/**
 * How much each context stream keeps (`NATS_STREAM_MAX_AGE_HOURS`, 7 days by default:
 * consumers down for longer, and replays of older history, read the services' own databases
 * instead; `NATS_STREAM_MAX_BYTES`, 1 GiB). Past either, the oldest events go. Dead letters are
 * kept four times as long, to be looked at.
 */
export function streamLimits(source: NodeJS.ProcessEnv = process.env): { maxAgeMs: number; maxBytes: number } {
  const positive = (name: string, fallback: number) => {
    const value = Number(source[name] ?? fallback);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${source[name]}"`);
    return value;
  };
  return { maxAgeMs: positive("NATS_STREAM_MAX_AGE_HOURS", 168) * 3_600_000, maxBytes: positive("NATS_STREAM_MAX_BYTES", 1024 ** 3) };
}

const streamAlreadyInUse = 10058;
const streamNotFound = 10059;

/** The stream of one context: every `shop.<context>.*` event, kept on disk. */
export function contextStreamConfig(context: string): Partial<StreamConfig> & { name: string } {
  const limits = streamLimits();
  return {
    name: streamName(context),
    subjects: [`shop.${context}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(limits.maxAgeMs),
    max_bytes: limits.maxBytes,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(duplicateWindowMs),
    num_replicas: streamReplicas(),
  };
}

export function deadLetterStreamConfig(): Partial<StreamConfig> & { name: string } {
  const limits = streamLimits();
  return {
    name: deadLetterStream,
    subjects: ["shop.dead_letter.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(limits.maxAgeMs * 4),
    max_bytes: limits.maxBytes,
    discard: DiscardPolicy.Old,
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
