import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpProblem, readBody, sendJson } from "./http.js";
import { decodeJsonTraces, decodeProtobufTraces } from "./otlp.js";
import type { TraceStore } from "./trace-store.js";

/**
 * Answers one OTLP/HTTP trace export (`POST /v1/traces`, `application/x-protobuf` or
 * `application/json`, gzipped or not) and adds its spans to `traces`.
 */
export async function receiveOtlpTraces(req: IncomingMessage, res: ServerResponse, traces: TraceStore, bodyLimit: number): Promise<void> {
  const body = await readBody(req, bodyLimit);
  const json = (req.headers["content-type"] ?? "").startsWith("application/json");
  try {
    traces.add(json ? decodeJsonTraces(body.toString("utf8")) : decodeProtobufTraces(body));
  } catch (err) {
    throw new HttpProblem(400, `not an OTLP ExportTraceServiceRequest: ${(err as Error).message}`);
  }
  // An empty ExportTraceServiceResponse: everything was accepted.
  if (json) sendJson(res, 200, {});
  else res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": 0 }).end();
}
