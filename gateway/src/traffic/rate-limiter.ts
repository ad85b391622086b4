interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/** The key every client shares once `maxClients` are tracked. */
export const overflowKey = "overflow";

/**
 * Token buckets, one per client key: `capacity` requests in a burst, refilled at
 * `refillPerSecond`; a request may cost more than one. Buckets that have refilled completely
 * carry no state and are dropped. Memory is bounded: past `maxClients` buckets, new clients
 * share one, so a flood of fresh keys (rotated addresses) limits itself instead of growing the map.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout;
  private sweptAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly capacity: number,
    private readonly refillPerSecond: number,
    private readonly maxClients = 100_000,
    private readonly now: () => number = Date.now,
  ) {
    const fullAfterMs = Math.ceil((capacity / refillPerSecond) * 1000);
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, fullAfterMs)).unref();
  }

  take(key: string, cost = 1): RateDecision {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      // Sweeping is a pass over every bucket: at most once a second, however many new clients come.
      if (this.buckets.size >= this.maxClients && now - this.sweptAt >= 1000) this.sweep();
      const tracked = this.buckets.size < this.maxClients ? key : overflowKey;
      bucket = this.buckets.get(tracked) ?? { tokens: this.capacity, updatedAt: now };
      this.buckets.set(tracked, bucket);
    }
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.refillPerSecond);
    bucket.updatedAt = now;
    // A request dearer than the whole burst still gets through from a full bucket.
    const price = Math.min(cost, this.capacity);
    if (bucket.tokens >= price) {
      bucket.tokens -= price;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((price - bucket.tokens) / this.refillPerSecond)) };
  }

  get trackedClients(): number {
    return this.buckets.size;
  }

  sweep(): void {
    const now = this.now();
    this.sweptAt = now;
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.refillPerSecond >= this.capacity) this.buckets.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
