import { DiscardPolicy, nanos, StorageType } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duplicateWindowMs, ensureStreams, streamLimits } from "./streams.js";
import { deadLetterStream, streamName } from "./subjects.js";
import { connectTestNats, type TestNats, uniqueContext } from "./test-support.js";

describe("ensureStreams", () => {
  const first = uniqueContext();
  const second = uniqueContext();
  const claimed = uniqueContext();
  const squatter = `SQUAT_${claimed.toUpperCase()}`;
  let nats: TestNats;

  beforeAll(async () => {
    nats = await connectTestNats();
  });
  afterAll(async () => {
    await nats.jsm.streams.delete(squatter).catch(() => false);
    await nats.close([first, second]);
  });

  it("creates one file-backed stream per context with a duplicate window, plus the dead-letter stream", async () => {
    await ensureStreams(nats.jsm, [first, second]);

    const info = await nats.jsm.streams.info(streamName(first));
    expect(info.config.subjects).toEqual([`shop.${first}.>`]);
    expect(info.config.storage).toBe(StorageType.File);
    expect(info.config.duplicate_window).toBe(nanos(duplicateWindowMs));
    expect(info.config).toMatchObject({ max_age: nanos(7 * 24 * 3_600_000), max_bytes: 1024 ** 3, discard: DiscardPolicy.Old });
    expect((await nats.jsm.streams.info(streamName(second))).config.subjects).toEqual([`shop.${second}.>`]);
    expect((await nats.jsm.streams.info(deadLetterStream)).config.subjects).toEqual(["shop.dead_letter.>"]);
  });

  it("is idempotent: running it again, even concurrently, leaves the same streams", async () => {
    await Promise.all([ensureStreams(nats.jsm, [first]), ensureStreams(nats.jsm, [first, first])]);

    const info = await nats.jsm.streams.info(streamName(first));
    expect(info.config.duplicate_window).toBe(nanos(duplicateWindowMs));
  });

  it("brings a stream created with another configuration back to the shop's", async () => {
    await nats.jsm.streams.update(streamName(second), { duplicate_window: nanos(5_000) });

    await ensureStreams(nats.jsm, [second]);

    expect((await nats.jsm.streams.info(streamName(second))).config.duplicate_window).toBe(nanos(duplicateWindowMs));
  });

  it("fails, naming the cause, when another stream already holds the context's subjects", async () => {
    await nats.jsm.streams.add({ name: squatter, subjects: [`shop.${claimed}.>`] });

    await expect(ensureStreams(nats.jsm, [claimed])).rejects.toThrow(/subjects overlap/);
  });

  it("drops a republished message id inside the duplicate window", async () => {
    const js = nats.nc.jetstream();
    const subject = `shop.${first}.something_happened`;

    const original = await js.publish(subject, new Uint8Array([1]), { msgID: "3b0b6a56-8f1e-4c43-9d64-4f1e2a6f0d11" });
    const again = await js.publish(subject, new Uint8Array([1]), { msgID: "3b0b6a56-8f1e-4c43-9d64-4f1e2a6f0d11" });

    expect(original.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, seq: original.seq });
  });

  it("takes its limits from NATS_STREAM_MAX_AGE_HOURS and NATS_STREAM_MAX_BYTES, refusing what is not a positive integer", () => {
    expect(streamLimits({ NATS_STREAM_MAX_AGE_HOURS: "24", NATS_STREAM_MAX_BYTES: "1048576" })).toEqual({
      maxAgeMs: 86_400_000,
      maxBytes: 1_048_576,
    });
    expect(() => streamLimits({ NATS_STREAM_MAX_AGE_HOURS: "forever" })).toThrow(/NATS_STREAM_MAX_AGE_HOURS must be a positive integer/);
  });
});
