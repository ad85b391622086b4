import { readFile } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { EventsView } from "./events.js";
import { ApiExplorer, type DevAccounts, type ExplorerRequest } from "./explorer.js";
import { contentTypes, HttpProblem, readBody, sendJson } from "./http.js";
import { MetricsScraper } from "./metrics.js";
import { receiveOtlpTraces } from "./otlp-receiver.js";
import { type Component, ServicesView } from "./services.js";
import { TraceStore } from "./trace-store.js";

export interface ConsoleOptions {
  host: string;
  port: number;
  components: readonly Component[];
  gatewayUrl: string;
  natsUrl: string;
  accounts: DevAccounts;
  /** Where the services send their spans, when it is not this console (the Traces page says so). */
  externalOtlpEndpoint?: string;
  /** The built page (index.html and its assets). */
  staticDir: string;
  /** Largest OTLP request body accepted. */
  bodyLimitBytes?: number;
}

export interface RunningConsole {
  url: string;
  traces: TraceStore;
  close(): Promise<void>;
}

/**
 * The development console: an OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf or JSON),
 * a small JSON API over what it reads from the system (`/api/...`), and the page itself.
 */
export async function startConsole(options: ConsoleOptions): Promise<RunningConsole> {
  const traces = new TraceStore();
  const metrics = new MetricsScraper(options.components.filter((c) => c.metricsUrl).map((c) => ({ name: c.name, url: c.metricsUrl! })));
  const services = new ServicesView(options.components, traces, metrics);
  const explorer = new ApiExplorer(options.gatewayUrl, options.accounts, traces);
  const events = await EventsView.connect(options.natsUrl);
  const bodyLimit = options.bodyLimitBytes ?? 16 * 1024 * 1024;
  metrics.start();

  const streamEvents = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
    const send = (message: unknown) => res.write(`data: ${JSON.stringify(message)}\n\n`);
    for (const message of events.recent()) send(message);
    const unsubscribe = events.subscribe(send);
    req.once("close", unsubscribe);
  };

  const api: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>> = {
    "GET /api/overview": async (_req, res) =>
      sendJson(res, 200, {
        gatewayUrl: options.gatewayUrl,
        natsUrl: options.natsUrl,
        otlpEndpoint: options.externalOtlpEndpoint ?? null,
        tracesVersion: traces.version,
      }),
    "GET /api/services": async (_req, res) => sendJson(res, 200, await services.list()),
    "GET /api/openapi": async (_req, res) => {
      const response = await fetch(`${options.gatewayUrl}/openapi.json`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new HttpProblem(502, `the gateway answered ${response.status} for /openapi.json`);
      sendJson(res, 200, await response.json());
    },
    "GET /api/dev-users": async (_req, res) => sendJson(res, 200, explorer.users()),
    "POST /api/explorer/send": async (req, res) => {
      const request = JSON.parse((await readBody(req, 1024 * 1024)).toString("utf8")) as ExplorerRequest;
      try {
        sendJson(res, 200, await explorer.send(request));
      } catch (err) {
        throw new HttpProblem(err instanceof RangeError ? 400 : 502, (err as Error).message);
      }
    },
    "GET /api/traces": async (_req, res, url) =>
      sendJson(res, 200, { version: traces.version, traces: traces.search(url.searchParams.get("q") ?? "", 200) }),
    "GET /api/sagas": async (_req, res) => sendJson(res, 200, { version: traces.version, sagas: traces.sagas(100) }),
    "GET /api/events": async (_req, res) => {
      const [state, deadLetters] = await Promise.all([events.streams(), events.deadLetters()]);
      const outboxLag = options.components
        .filter((c) => c.kind === "service")
        .map((c) => ({ service: c.name, lagSeconds: metrics.processStats(c.name)?.outboxLagSeconds ?? null }));
      sendJson(res, 200, { ...state, deadLetters, outboxLag });
    },
    "GET /api/events/stream": async (req, res) => streamEvents(req, res),
    "GET /api/plots": async (_req, res) => sendJson(res, 200, metrics.plots()),
  };

  const serveStatic = async (res: ServerResponse, pathname: string) => {
    const relative = path.normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, "");
    const file = path.join(options.staticDir, relative === "/" ? "index.html" : relative);
    const inside = file.startsWith(options.staticDir + path.sep);
    const content = inside ? await readFile(file).catch(() => undefined) : undefined;
    if (content) {
      res.writeHead(200, { "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream" }).end(content);
      return;
    }
    // The page routes by fragment; any other path gets the page.
    res.writeHead(200, { "content-type": contentTypes[".html"] }).end(await readFile(path.join(options.staticDir, "index.html")));
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://console");
    const handle = async () => {
      if (url.pathname === "/v1/traces") {
        if (req.method !== "POST") throw new HttpProblem(405, "POST OTLP trace requests here");
        return receiveOtlpTraces(req, res, traces, bodyLimit);
      }
      const trace = /^\/api\/traces\/([0-9a-f]{32})$/.exec(url.pathname);
      if (trace && req.method === "GET") {
        const detail = traces.trace(trace[1]!);
        if (!detail) throw new HttpProblem(404, `no trace ${trace[1]} received (yet)`);
        return sendJson(res, 200, detail);
      }
      const route = api[`${req.method} ${url.pathname}`];
      if (route) return route(req, res, url);
      if (url.pathname.startsWith("/api/")) throw new HttpProblem(404, `no ${req.method} ${url.pathname}`);
      return serveStatic(res, url.pathname);
    };
    handle().catch((err: unknown) => {
      if (res.headersSent) return res.end();
      sendJson(res, err instanceof HttpProblem ? err.status : 500, { error: (err as Error).message });
    });
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(options.port, options.host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    traces,
    async close() {
      metrics.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await events.close();
    },
  };
}
