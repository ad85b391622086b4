import { fromBinary, type JsonValue, type Registry, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeName, httpStatusOf, isIdempotencyConflict } from "@shop/runtime";

/** A failure with an HTTP status of its own, outside the gRPC mapping (405, 413, 415, 422). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: Code,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The error body of the public API (docs/architecture.md): status, code name, message, details. */
export interface ErrorBody {
  code: string;
  message: string;
  details: JsonValue[];
}

export interface ErrorReply {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBody;
  /** Set when the error was not an expected one: log it; the client only sees "internal error". */
  unexpected?: unknown;
}

const typeUrlPrefix = "type.googleapis.com/";

/** Error details in the JSON form of google.protobuf.Any; unknown types keep their bytes. */
function detailsJson(err: ConnectError, registry: Registry): JsonValue[] {
  return err.details.map((detail) => {
    if ("desc" in detail) {
      return { "@type": typeUrlPrefix + detail.desc.typeName, ...(toJson(detail.desc, detail.value as never, { registry }) as object) };
    }
    const opaque = { "@type": typeUrlPrefix + detail.type, value: Buffer.from(detail.value).toString("base64") };
    const schema = registry.getMessage(detail.type);
    if (!schema) return opaque;
    try {
      return { "@type": typeUrlPrefix + detail.type, ...(toJson(schema, fromBinary(schema, detail.value), { registry }) as object) };
    } catch {
      return opaque;
    }
  });
}

/** Maps any failure to status and body; nothing but the message of an expected error reaches the client. */
export function errorReply(err: unknown, registry: Registry): ErrorReply {
  if (err instanceof HttpError) {
    return { status: err.status, headers: err.headers, body: { code: codeName(err.code), message: err.message, details: [] } };
  }
  if (err instanceof ConnectError) {
    const headers: Record<string, string> = {};
    const retryAfter = err.metadata.get("retry-after");
    if (retryAfter) headers["retry-after"] = retryAfter;
    if (err.code === Code.Unauthenticated) headers["www-authenticate"] = "Bearer";
    return {
      // The draft standard's answer to a key reused for another request, whichever service found it.
      status: isIdempotencyConflict(err) ? 422 : httpStatusOf(err.code),
      headers,
      body: { code: codeName(err.code), message: err.rawMessage, details: detailsJson(err, registry) },
    };
  }
  return { status: 500, headers: {}, body: { code: codeName(Code.Internal), message: "internal error", details: [] }, unexpected: err };
}
