import { describe, expect, it } from "vitest";
import { trackingNumberFrom, trackingNumberRandomBytes } from "./shipment.js";

describe("tracking numbers", () => {
  it("are SHP- and ten upper-case base32 characters", () => {
    expect(trackingNumberFrom(new Uint8Array(trackingNumberRandomBytes))).toBe("SHP-AAAAAAAAAA");
    expect(trackingNumberFrom(Uint8Array.from([0, 1, 25, 26, 31, 32, 255, 7, 100, 200]))).toBe("SHP-ABZ27A7HEI");
  });

  it("need exactly one random byte per character", () => {
    expect(() => trackingNumberFrom(new Uint8Array(4))).toThrow(RangeError);
  });
});
