interface Bucket {
  tokens: number;
  updatedAt: number;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Token buckets, one per client key: `capacity` requests in a burst, refilled at
 * `refillPerSecond`. Buckets that have refilled completely carry no state and are dropped.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly capacity: number,
    private readonly refillPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    const fullAfterMs = Math.ceil((capacity / refillPerSecond) * 1000);
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, fullAfterMs)).unref();
  }

  take(key: string): RateDecision {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.capacity, updatedAt: now };
    bucket.tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.refillPerSecond);
    bucket.updatedAt = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.refillPerSecond)) };
  }

  get trackedClients(): number {
    return this.buckets.size;
  }

  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + ((now - bucket.updatedAt) / 1000) * this.refillPerSecond >= this.capacity) this.buckets.delete(key);
    }
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}
