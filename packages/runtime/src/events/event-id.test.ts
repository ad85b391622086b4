import { describe, expect, it } from "vitest";
import { newEventId } from "./event-id.js";

describe("newEventId", () => {
  it("makes RFC 9562 version 7 UUIDs", () => {
    expect(newEventId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("sorts in creation order, also past 4096 ids in one millisecond", () => {
    const ids = Array.from({ length: 20_000 }, () => newEventId());

    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("carries the creation time in its first 48 bits", () => {
    const before = Date.now();
    const millis = parseInt(newEventId().replace(/-/g, "").slice(0, 12), 16);

    expect(millis).toBeGreaterThanOrEqual(before);
    // Ids beyond 4096 in one millisecond borrow the next one: at most 5 ms ahead after the test above.
    expect(millis).toBeLessThanOrEqual(Date.now() + 10);
  });
});
