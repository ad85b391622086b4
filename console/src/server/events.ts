import { createRegistry, fromBinary, type JsonValue, toJson } from "@bufbuild/protobuf";
import { shopFiles } from "@shop/contracts";
import { deadLetterHeaders, deadLetterStream, eventHeaders } from "@shop/runtime";
import { connect, type MsgHdrs, type NatsConnection } from "nats";

/** A message seen on a shop subject, decoded. */
export interface TailedMessage {
  subject: string;
  type: string;
  receivedAt: number;
  headers: Record<string, string>;
  /** The Protobuf payload as canonical JSON, or a note when its type is unknown. */
  payload: JsonValue;
}

export interface ConsumerState {
  stream: string;
  name: string;
  filter: string;
  /** Not yet delivered. */
  pending: number;
  /** Delivered, not yet acknowledged. */
  ackPending: number;
  redelivered: number;
  delivered: number;
}

export interface DeadLetter {
  sequence: number;
  time: string;
  consumer: string;
  subject: string;
  eventId: string;
  deliveries: string;
  error: string;
  headers: Record<string, string>;
  payload: JsonValue;
}

export interface StreamState {
  name: string;
  subjects: string[];
  messages: number;
  lastSequence: number;
}

const registry = createRegistry(...shopFiles);

function headersOf(headers: MsgHdrs | undefined): Record<string, string> {
  return Object.fromEntries([...(headers?.keys() ?? [])].map((key) => [key, headers!.get(key)]));
}

function decode(type: string, data: Uint8Array): JsonValue {
  const schema = registry.getMessage(type);
  if (!schema) return `<${data.length} bytes of unknown type ${type || "(none)"}>`;
  try {
    return toJson(schema, fromBinary(schema, data), { registry });
  } catch (err) {
    return `<undecodable ${type}: ${(err as Error).message}>`;
  }
}

/**
 * What the Events page shows, read from NATS as any client could: a live tail of every shop
 * subject (a plain subscription, which consumes nothing from the streams), the streams and their
 * durable consumers with what each has not yet applied, and the dead letters.
 */
export class EventsView {
  private readonly tail: TailedMessage[] = [];
  private readonly listeners = new Set<(message: TailedMessage) => void>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly keep: number,
  ) {}

  static async connect(natsUrl: string, keep = 500): Promise<EventsView> {
    const nc = await connect({ servers: natsUrl, name: "dev-console", maxReconnectAttempts: -1 });
    const view = new EventsView(nc, keep);
    nc.subscribe("shop.>", {
      callback: (err, message) => {
        if (err) return;
        const headers = headersOf(message.headers);
        const type = headers[eventHeaders.type] ?? "";
        view.push({ subject: message.subject, type, receivedAt: Date.now(), headers, payload: decode(type, message.data) });
      },
    });
    return view;
  }

  private push(message: TailedMessage): void {
    this.tail.push(message);
    if (this.tail.length > this.keep) this.tail.shift();
    for (const listener of this.listeners) listener(message);
  }

  recent(): TailedMessage[] {
    return [...this.tail];
  }

  /** Calls `listener` with each message from now on, until the returned function is called. */
  subscribe(listener: (message: TailedMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async streams(): Promise<{ streams: StreamState[]; consumers: ConsumerState[] }> {
    const jsm = await this.nc.jetstreamManager();
    const streams: StreamState[] = [];
    const consumers: ConsumerState[] = [];
    for await (const info of jsm.streams.list()) {
      if (!info.config.name.startsWith("SHOP_")) continue;
      streams.push({
        name: info.config.name,
        subjects: info.config.subjects ?? [],
        messages: info.state.messages,
        lastSequence: info.state.last_seq,
      });
      for await (const consumer of jsm.consumers.list(info.config.name)) {
        if (!consumer.config.durable_name) continue;
        consumers.push({
          stream: info.config.name,
          name: consumer.name,
          filter: consumer.config.filter_subject ?? "",
          pending: consumer.num_pending,
          ackPending: consumer.num_ack_pending,
          redelivered: consumer.num_redelivered,
          delivered: consumer.delivered.stream_seq,
        });
      }
    }
    return { streams: streams.sort((a, b) => a.name.localeCompare(b.name)), consumers };
  }

  /** The newest `limit` dead letters, newest first. */
  async deadLetters(limit = 50): Promise<DeadLetter[]> {
    const jsm = await this.nc.jetstreamManager();
    let last: number;
    try {
      last = (await jsm.streams.info(deadLetterStream)).state.last_seq;
    } catch {
      return [];
    }
    const letters: DeadLetter[] = [];
    for (let seq = last; seq > 0 && letters.length < limit && seq > last - limit * 2; seq--) {
      const message = await jsm.streams.getMessage(deadLetterStream, { seq }).catch(() => undefined);
      if (!message) continue;
      const headers = headersOf(message.header);
      letters.push({
        sequence: seq,
        time: message.time.toISOString(),
        consumer: headers[deadLetterHeaders.consumer] ?? "",
        subject: headers[deadLetterHeaders.subject] ?? message.subject,
        eventId: headers[deadLetterHeaders.eventId] ?? "",
        deliveries: headers[deadLetterHeaders.deliveries] ?? "",
        error: headers[deadLetterHeaders.error] ?? "",
        headers,
        payload: decode(headers[eventHeaders.type] ?? "", message.data),
      });
    }
    return letters;
  }

  async close(): Promise<void> {
    await this.nc.drain();
  }
}
