import type { JsMsg, NatsConnection, OrderedConsumerOptions } from "nats";
import { eventHeaders } from "./subjects.js";

/** One message of a stream as a projection sees it: decode `data` with the schema `type` names. */
export interface StoredEvent {
  eventId: string;
  type: string;
  subject: string;
  streamSequence: number;
  occurredAt?: Date;
  data: Uint8Array;
  headers: Record<string, string>;
}

export interface ReplayOptions {
  nc: NatsConnection;
  stream: string;
  /** Only these subjects (wildcards allowed); the whole stream when absent. */
  filterSubject?: string;
  /** Called once per event, in stream order; the next waits for it. */
  handle(event: StoredEvent): Promise<void> | void;
  /** Messages pulled per request. */
  batchSize?: number;
}

function storedEvent(m: JsMsg): StoredEvent {
  const headers: Record<string, string> = {};
  for (const key of m.headers?.keys() ?? []) headers[key] = m.headers!.get(key);
  const occurredAt = headers[eventHeaders.occurredAt];
  return {
    eventId: headers[eventHeaders.messageId] ?? "",
    type: headers[eventHeaders.type] ?? "",
    subject: m.subject,
    streamSequence: m.seq,
    occurredAt: occurredAt ? new Date(occurredAt) : undefined,
    data: m.data,
    headers,
  };
}

/**
 * Reads a stream from its first message with an ephemeral ordered consumer until it has
 * caught up (nothing pending), for rebuilding a read model from events. Returns how many
 * events were handled.
 */
export async function replayStream(options: ReplayOptions): Promise<number> {
  const { nc, stream, filterSubject } = options;
  // Asking the stream first fails fast when it is missing (an ordered consumer would keep
  // retrying) and skips creating a consumer when there is nothing to read.
  const jsm = await nc.jetstreamManager();
  const { state } = await jsm.streams.info(stream, filterSubject ? { subjects_filter: filterSubject } : undefined);
  const available = filterSubject ? Object.values(state.subjects ?? {}).reduce((sum, n) => sum + n, 0) : state.messages;
  if (available === 0) return 0;

  // An ordered consumer starts at the stream's first sequence unless told otherwise.
  const consumerOptions: Partial<OrderedConsumerOptions> = filterSubject ? { filterSubjects: filterSubject } : {};
  const consumer = await nc.jetstream().consumers.get(stream, consumerOptions);

  const messages = await consumer.consume({ max_messages: options.batchSize ?? 256 });
  let handled = 0;
  try {
    for await (const m of messages) {
      await options.handle(storedEvent(m));
      handled += 1;
      if (m.info.pending === 0) break;
    }
  } finally {
    await messages.close();
  }
  return handled;
}
