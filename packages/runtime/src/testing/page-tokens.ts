import { create, toBinary } from "@bufbuild/protobuf";
import { PageCursorSchema } from "@shop/contracts/shop/common/v1/paging_pb.js";

/** A page token in the wire format but with any cursor, as a client could forge it. */
export function forgedPageToken(afterKey: string, afterId: string): string {
  return Buffer.from(toBinary(PageCursorSchema, create(PageCursorSchema, { afterKey, afterId }))).toString("base64url");
}
