import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type PageCursor, PageCursorSchema } from "@shop/contracts/shop/common/v1/paging_pb.js";
import { errors } from "./errors.js";
import { isUuid } from "./uuid.js";

export const defaultPageSize = 20;
export const maxPageSize = 100;

/** AIP-158 page size: 0 means the default; larger than the maximum is clamped. */
export function pageSizeOf(requested: number): number {
  return requested <= 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

/**
 * Where a page ends. Every paged collection is ordered by creation time, then by its UUID id,
 * so this is the last item's time and id.
 */
export interface PageEnd {
  time: Date;
  id: string;
}

/** An opaque, URL-safe page token for the page after `end`. */
export function encodePageToken(end: PageEnd): string {
  const cursor = create(PageCursorSchema, { afterKey: end.time.toISOString(), afterId: end.id });
  return Buffer.from(toBinary(PageCursorSchema, cursor)).toString("base64url");
}

/**
 * A page from `rows`, read one past `size` in the collection's order: its first `size` items,
 * and the token of the page after them when that extra row shows there is one.
 */
export function pageOf<T>(rows: readonly T[], size: number, endOf: (item: T) => PageEnd): { items: T[]; nextPageToken: string } {
  const items = rows.slice(0, size);
  const last = items.at(-1);
  return { items, nextPageToken: rows.length > size && last !== undefined ? encodePageToken(endOf(last)) : "" };
}

/** Where the page before a token ended; INVALID_ARGUMENT naming `pageToken` when the token is not one of ours. */
export function decodePageToken(token: string): PageEnd | undefined {
  if (token === "") return undefined;
  const invalid = () => errors.invalidArgument("pageToken", "is not a valid page token");
  let cursor: PageCursor;
  try {
    cursor = fromBinary(PageCursorSchema, Buffer.from(token, "base64url"));
  } catch {
    throw invalid();
  }
  const time = new Date(cursor.afterKey);
  if (Number.isNaN(time.getTime()) || !isUuid(cursor.afterId)) throw invalid();
  return { time, id: cursor.afterId };
}
