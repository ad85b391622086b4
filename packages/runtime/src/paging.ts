import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PageCursorSchema, type PageCursor } from "@shop/contracts/shop/common/v1/paging_pb.js";
import { errors } from "./errors.js";

export const defaultPageSize = 20;
export const maxPageSize = 100;

/** AIP-158 page size: 0 means the default; larger than the maximum is clamped. */
export function pageSizeOf(requested: number): number {
  return requested <= 0 ? defaultPageSize : Math.min(requested, maxPageSize);
}

/** An opaque, URL-safe page token for the cursor after the last item returned. */
export function encodePageToken(afterKey: string, afterId: string): string {
  return Buffer.from(toBinary(PageCursorSchema, create(PageCursorSchema, { afterKey, afterId }))).toString("base64url");
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The cursor of a page token; INVALID_ARGUMENT naming `pageToken` when it is not one of ours.
 * Every paged collection is keyed by UUID, so a cursor with any other id was not issued here.
 */
export function decodePageToken(token: string): PageCursor | undefined {
  if (token === "") return undefined;
  try {
    const cursor = fromBinary(PageCursorSchema, Buffer.from(token, "base64url"));
    if (!uuidPattern.test(cursor.afterId)) throw new Error("cursor without a UUID id");
    return cursor;
  } catch {
    throw errors.invalidArgument("pageToken", "is not a valid page token");
  }
}
