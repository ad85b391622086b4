import type { IncomingMessage } from "node:http";
import { Code } from "@connectrpc/connect";
import { HttpError } from "./errors.js";

function tooLarge(limit: number): HttpError {
  // Closing the connection spares reading the rest of a body nobody will use.
  return new HttpError(413, Code.ResourceExhausted, `request body exceeds the limit of ${limit} bytes`, { connection: "close" });
}

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/**
 * Reads a request body of at most `limit` bytes. A declared length above the limit is refused
 * before reading anything; a streamed body is refused as soon as it passes the limit.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (!hasBody(req)) return undefined;
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Requests with a body must say it is JSON. */
export function requireJsonContent(req: IncomingMessage): void {
  const type = req.headers["content-type"];
  if (type !== undefined && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new HttpError(415, Code.InvalidArgument, `Content-Type: expected application/json, got "${type}"`);
  }
}
