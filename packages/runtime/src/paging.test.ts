import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { decodePageToken, encodePageToken, pageOf, pageSizeOf } from "./paging.js";
import { forgedPageToken } from "./testing/page-tokens.js";

describe("paging", () => {
  it("defaults and clamps page sizes", () => {
    expect([0, -1, 5, 100, 500].map(pageSizeOf)).toEqual([20, 20, 5, 100, 100]);
  });

  it("round-trips cursors through opaque URL-safe tokens", () => {
    const token = encodePageToken({ time: new Date("2026-11-22T06:00:00.000Z"), id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001" });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token)).toEqual({ time: new Date("2026-11-22T06:00:00.000Z"), id: "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001" });
    expect(decodePageToken("")).toBeUndefined();
  });

  it("rejects tokens it did not issue, naming pageToken", () => {
    const forged = [
      forgedPageToken("2026-11-22T06:00:00.000Z", "not-a-uuid"),
      forgedPageToken("yesterday", "8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e0001"),
    ];
    for (const bad of ["%%%", "AAAA", Buffer.from("not a cursor").toString("base64url"), ...forged]) {
      expect(() => decodePageToken(bad)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument, rawMessage: "pageToken: is not a valid page token" }),
      );
    }
  });

  it("pageOf keeps the asked size and gives a token for the next page only when a row lies past it", () => {
    const rows = ["a", "b", "c"].map((name, i) => ({
      name,
      time: new Date(Date.UTC(2026, 10, 22, 6, i)),
      id: `8d0f7b8e-1b9a-4c53-9a43-0c8a5f1e000${i}`,
    }));
    const endOf = (row: (typeof rows)[number]) => ({ time: row.time, id: row.id });

    const first = pageOf(rows, 2, endOf);
    expect(first.items.map((row) => row.name)).toEqual(["a", "b"]);
    expect(decodePageToken(first.nextPageToken)).toEqual(endOf(rows[1]!));

    expect(pageOf(rows, 3, endOf)).toEqual({ items: rows, nextPageToken: "" });
    expect(pageOf([], 3, endOf)).toEqual({ items: [], nextPageToken: "" });
  });
});
