import type { ServerResponse } from "node:http";
import type { Registry } from "@bufbuild/protobuf";
import type { Logger } from "@shop/runtime";
import { errorReply } from "./errors.js";

export function sendJson(res: ServerResponse, status: number, body: string, headers: Readonly<Record<string, string>> = {}): void {
  res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** Answers with the error body (docs/architecture.md); an unexpected error is logged and shows as a bare internal error. */
export function sendError(res: ServerResponse, err: unknown, registry: Registry, logger: Logger, correlationId: string): void {
  const reply = errorReply(err, registry);
  if (reply.unexpected !== undefined) logger.error({ err: reply.unexpected, correlationId }, "request failed unexpectedly");
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, reply.status, JSON.stringify(reply.body), reply.headers);
}
