import { createHash } from "node:crypto";
import { connectNats } from "@shop/runtime";
import type { KV, NatsConnection } from "nats";

/** Longest Idempotency-Key accepted (the orders service, which keeps keys too, takes the same). */
export const maxIdempotencyKeyLength = 200;

/** A response kept for replay. */
export interface StoredResponse {
  status: number;
  body: string;
}

export type IdempotencyOutcome =
  /** First use of the key: run the request, then `complete` (keep the response) or `release` (forget the key). */
  | { kind: "proceed"; complete(response: StoredResponse): Promise<void>; release(): Promise<void> }
  | { kind: "replay"; response: StoredResponse }
  | { kind: "conflict"; reason: "different_request" | "in_progress" };

export interface IdempotencyStore {
  /**
   * Claims `key` for `scope` (the caller) and a request `fingerprint`. Atomic across gateway
   * replicas: of two concurrent first uses, one proceeds and the other sees it in progress.
   */
  begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyOutcome>;
  close(): Promise<void>;
}

interface Entry {
  fingerprint: string;
  state: "pending" | "done";
  /** When the pending claim was taken (epoch ms). */
  since: number;
  response?: StoredResponse;
}

/** NATS reports "wrong last sequence" when `create` finds the key taken. */
const keyTaken = (err: unknown) => (err as { api_error?: { err_code?: number } })?.api_error?.err_code === 10071;

export function requestFingerprint(method: string, url: string, body: Buffer | undefined): string {
  const hash = createHash("sha256").update(`${method} ${url}\n`);
  if (body) hash.update(body);
  return hash.digest("hex");
}

export interface NatsIdempotencyOptions {
  natsUrl: string;
  ttlSeconds: number;
  /** A pending claim older than this belongs to a replica that died mid-request and may be taken over. */
  pendingTimeoutMs: number;
  bucket?: string;
}

class KvIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly connection: NatsConnection,
    private readonly kv: KV,
    private readonly pendingTimeoutMs: number,
  ) {}

  async begin(scope: string, key: string, fingerprint: string): Promise<IdempotencyOutcome> {
    // KV keys allow few characters; a digest also keeps client-chosen keys out of the store.
    const kvKey = createHash("sha256").update(scope).update("\0").update(key).digest("hex");
    const pending = (): Entry => ({ fingerprint, state: "pending", since: Date.now() });
    // A few rounds settle races with concurrent claims and expiring entries.
    for (let round = 0; round < 5; round++) {
      try {
        return this.proceed(kvKey, fingerprint, await this.kv.create(kvKey, JSON.stringify(pending())));
      } catch (err) {
        if (!keyTaken(err)) throw err;
      }
      const found = await this.kv.get(kvKey);
      if (found?.operation !== "PUT") continue;
      const entry = found.json<Entry>();
      if (entry.fingerprint !== fingerprint) return { kind: "conflict", reason: "different_request" };
      if (entry.state === "done" && entry.response) return { kind: "replay", response: entry.response };
      if (Date.now() - entry.since < this.pendingTimeoutMs) return { kind: "conflict", reason: "in_progress" };
      try {
        return this.proceed(kvKey, fingerprint, await this.kv.update(kvKey, JSON.stringify(pending()), found.revision));
      } catch (err) {
        if (!keyTaken(err)) throw err;
      }
    }
    return { kind: "conflict", reason: "in_progress" };
  }

  private proceed(kvKey: string, fingerprint: string, revision: number): IdempotencyOutcome {
    return {
      kind: "proceed",
      complete: async (response) => {
        const done: Entry = { fingerprint, state: "done", since: Date.now(), response };
        await this.kv.update(kvKey, JSON.stringify(done), revision);
      },
      release: () => this.kv.delete(kvKey),
    };
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}

/** The store in a JetStream key-value bucket shared by every gateway replica; entries expire after the TTL. */
export async function openIdempotencyStore(options: NatsIdempotencyOptions): Promise<IdempotencyStore> {
  const connection = await connectNats("gateway-idempotency", options.natsUrl);
  try {
    const kv = await connection.jetstream().views.kv(options.bucket ?? "gateway_idempotency", {
      ttl: options.ttlSeconds * 1000,
      history: 1,
    });
    return new KvIdempotencyStore(connection, kv, options.pendingTimeoutMs);
  } catch (err) {
    await connection.close();
    throw err;
  }
}
