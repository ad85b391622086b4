import { afterEach, describe, expect, it } from "vitest";
import { RateLimiter } from "./rate-limiter.js";

describe("token bucket rate limiter", () => {
  let now = 0;
  const limiters: RateLimiter[] = [];
  const limiter = (capacity: number, refillPerSecond: number, maxClients = 1000) => {
    const created = new RateLimiter(capacity, refillPerSecond, maxClients, () => now);
    limiters.push(created);
    return created;
  };
  afterEach(() => {
    for (const limiter of limiters.splice(0)) limiter.close();
    now = 0;
  });

  it("allows a burst up to the capacity, then asks to retry after the refill time", () => {
    const limit = limiter(3, 1);
    expect([1, 2, 3].map(() => limit.take("a").allowed)).toEqual([true, true, true]);
    expect(limit.take("a")).toEqual({ allowed: false, retryAfterSeconds: 1 });
  });

  it("refills over time, never above the capacity", () => {
    const limit = limiter(2, 2);
    limit.take("a");
    limit.take("a");
    expect(limit.take("a").allowed).toBe(false);
    now += 500;
    expect(limit.take("a").allowed).toBe(true);
    expect(limit.take("a").allowed).toBe(false);
    now += 60_000;
    expect([1, 2, 3].map(() => limit.take("a").allowed)).toEqual([true, true, false]);
  });

  it("keeps one bucket per client", () => {
    const limit = limiter(1, 1);
    expect(limit.take("user:1").allowed).toBe(true);
    expect(limit.take("user:1").allowed).toBe(false);
    expect(limit.take("user:2").allowed).toBe(true);
    expect(limit.take("address:10.0.0.1").allowed).toBe(true);
  });

  it("rounds the wait up to whole seconds for slow refills", () => {
    const limit = limiter(1, 0.25);
    limit.take("a");
    expect(limit.take("a")).toEqual({ allowed: false, retryAfterSeconds: 4 });
  });

  it("forgets clients whose bucket is full again", () => {
    const limit = limiter(2, 1);
    limit.take("a");
    limit.take("b");
    now += 500;
    limit.sweep();
    expect(limit.trackedClients).toBe(2);
    now += 1000;
    limit.sweep();
    expect(limit.trackedClients).toBe(0);
  });

  it("charges a request its cost, and lets one dearer than the burst through from a full bucket", () => {
    const limit = limiter(100, 50);
    expect([1, 2, 3, 4, 5].map(() => limit.take("a", 20).allowed)).toEqual([true, true, true, true, true]);
    expect(limit.take("a", 20)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(limit.take("a", 1).allowed).toBe(false);
    expect(limit.take("b", 500).allowed).toBe(true);
    expect(limit.take("b", 1).allowed).toBe(false);
  });

  it("tracks at most maxClients buckets: new clients beyond them share one", () => {
    const limit = limiter(2, 1, 3);
    for (const client of ["a", "b", "c"]) limit.take(client);
    expect(limit.trackedClients).toBe(3);
    const rotated = Array.from({ length: 1000 }, (_, i) => limit.take(`rotated-${i}`).allowed);
    expect(rotated.filter(Boolean)).toHaveLength(2);
    expect(limit.trackedClients).toBe(4);
  });
});
