import { randomFillSync, randomInt } from "node:crypto";

let lastMillis = 0;
let counter = 0;

// Random bytes are drawn from the system in blocks: one call per id would cost more than the rest of the id.
const randomPool = Buffer.alloc(16 * 256);
let poolOffset = randomPool.length;

function randomBlock(): Buffer {
  if (poolOffset === randomPool.length) {
    randomFillSync(randomPool);
    poolOffset = 0;
  }
  const block = Buffer.from(randomPool.subarray(poolOffset, poolOffset + 16));
  poolOffset += 16;
  return block;
}

/**
 * A UUIDv7 (RFC 9562) whose 12-bit `rand_a` field counts up within a millisecond, so ids made
 * by one process sort in creation order. The outbox breaks ties between rows of one
 * transaction (same `created_at`) by id, which keeps a transaction's events in order.
 */
export function newEventId(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    counter = randomInt(0x800);
  } else if (++counter > 0xfff) {
    // More than 4096 ids in one millisecond: borrow the next millisecond to stay ordered.
    lastMillis += 1;
    counter = 0;
  }
  const bytes = randomBlock();
  bytes.writeUIntBE(lastMillis, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
