import type { IncomingMessage, ServerResponse } from "node:http";
import { Code } from "@connectrpc/connect";
import { metricsRegistry } from "@shop/runtime";
import type { ContractMonitor } from "../compatibility/contract-monitor.js";
import { HttpError } from "../http/errors.js";
import { sendJson } from "../http/reply.js";

export type OperationHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Liveness, readiness (upstreams reachable and contract-compatible), Prometheus metrics and the OpenAPI document. */
export function operations(contracts: ContractMonitor, openApiJson: string): ReadonlyMap<string, OperationHandler> {
  const handlers: Record<string, OperationHandler> = {
    "/healthz": async (_req, res) => sendJson(res, 200, JSON.stringify({ status: "ok" })),
    "/readyz": async (_req, res) => {
      const report = await contracts.current();
      const problems = report.upstreams.flatMap((u) => u.problems);
      sendJson(
        res,
        report.ready ? 200 : 503,
        JSON.stringify({ status: report.ready ? "ready" : "not_ready", problems, upstreams: report.upstreams }),
      );
    },
    "/metrics": async (_req, res) => {
      const text = await metricsRegistry.metrics();
      res.writeHead(200, { "content-type": metricsRegistry.contentType, "content-length": Buffer.byteLength(text) });
      res.end(text);
    },
    "/openapi.json": async (_req, res) => sendJson(res, 200, openApiJson),
  };
  return new Map(
    Object.entries(handlers).map(([path, handler]) => [
      path,
      async (req: IncomingMessage, res: ServerResponse) => {
        if (req.method !== "GET")
          throw new HttpError(405, Code.Unimplemented, `${req.method} is not allowed on ${path} (allowed: GET)`, { allow: "GET" });
        await handler(req, res);
      },
    ]),
  );
}
