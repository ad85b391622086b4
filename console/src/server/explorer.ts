import { randomBytes, randomUUID } from "node:crypto";
import type { TraceStore } from "./trace-store.js";

/** Who the API explorer calls as. */
export type DevUser = "anonymous" | "admin" | "customer";

export interface DevAccounts {
  admin: { email: string; password: string };
  customer: { email: string; password: string; name: string };
}

export interface ExplorerRequest {
  method: string;
  /** Path and query, as the gateway routes them (`/v1/products?pageSize=2`). */
  path: string;
  user: DevUser;
  body?: string;
  headers?: Record<string, string>;
}

export interface ExplorerExchange {
  request: { method: string; url: string; headers: Record<string, string>; body?: string };
  response: { status: number; headers: Record<string, string>; body: string } | { error: string };
  durationMs: number;
  traceId: string;
  requestId: string;
}

const allowedMethods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
const elided = (token: string) => `Bearer ${token.slice(0, 12)}…`;

/**
 * Calls the gateway for the API explorer, as an anonymous caller, the development admin
 * (`ADMIN_EMAIL`/`ADMIN_PASSWORD`) or a development customer it registers through the public API
 * on first use. Each call starts a trace of its own: the console records its client span and
 * sends the gateway a sampled `traceparent` naming it, so the page can open the trace it made.
 */
export class ApiExplorer {
  private readonly tokens = new Map<Exclude<DevUser, "anonymous">, { token: string; expiresAt: number }>();

  constructor(
    private readonly gatewayUrl: string,
    private readonly accounts: DevAccounts,
    private readonly traces: TraceStore,
  ) {}

  users(): { id: DevUser; label: string }[] {
    return [
      { id: "customer", label: `customer (${this.accounts.customer.email})` },
      { id: "admin", label: `admin (${this.accounts.admin.email})` },
      { id: "anonymous", label: "anonymous (no token)" },
    ];
  }

  private async post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetch(this.gatewayUrl + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, json: (await response.json().catch(() => ({}))) as Record<string, unknown> };
  }

  private async signIn(email: string, password: string): Promise<{ token: string; expiresAt: number } | undefined> {
    const { status, json } = await this.post("/v1/auth/token", { email, password });
    if (status !== 200 || typeof json.accessToken !== "string") return undefined;
    const expiresIn = Number(json.expiresIn ?? 3600);
    return { token: json.accessToken, expiresAt: Date.now() + (expiresIn - 60) * 1000 };
  }

  /** A valid token of `user`, signing in (and registering the customer) when needed. */
  async tokenOf(user: Exclude<DevUser, "anonymous">): Promise<string> {
    const cached = this.tokens.get(user);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    const account = this.accounts[user];
    let signedIn = await this.signIn(account.email, account.password);
    if (!signedIn && user === "customer") {
      const { customer } = this.accounts;
      const created = await this.post("/v1/users", { email: customer.email, name: customer.name, password: customer.password });
      if (created.status !== 200 && created.status !== 409)
        throw new Error(`registering ${customer.email} answered ${created.status}: ${JSON.stringify(created.json)}`);
      signedIn = await this.signIn(account.email, account.password);
    }
    if (!signedIn) throw new Error(`signing in as ${account.email} failed`);
    this.tokens.set(user, signedIn);
    return signedIn.token;
  }

  async send(request: ExplorerRequest): Promise<ExplorerExchange> {
    const method = request.method.toUpperCase();
    if (!allowedMethods.has(method)) throw new RangeError(`method must be one of ${[...allowedMethods].join(", ")}`);
    if (!request.path.startsWith("/")) throw new RangeError("path must start with /");
    const traceId = randomBytes(16).toString("hex");
    const spanId = randomBytes(8).toString("hex");
    const requestId = `console-${randomUUID()}`;
    const headers: Record<string, string> = {
      ...request.headers,
      "x-request-id": requestId,
      traceparent: `00-${traceId}-${spanId}-01`,
    };
    if (request.body !== undefined && request.body !== "") headers["content-type"] = "application/json";
    const shown = { ...headers };
    if (request.user !== "anonymous") {
      const token = await this.tokenOf(request.user);
      headers.authorization = `Bearer ${token}`;
      shown.authorization = elided(token);
    }
    const url = this.gatewayUrl + request.path;
    const body = request.body === "" ? undefined : request.body;
    const start = Date.now();
    let response: ExplorerExchange["response"];
    try {
      const answer = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(30_000) });
      response = { status: answer.status, headers: Object.fromEntries(answer.headers), body: await answer.text() };
    } catch (err) {
      response = { error: (err as Error).message };
    }
    const end = Date.now();
    const status = "status" in response ? response.status : 0;
    this.traces.add([
      {
        traceId,
        spanId,
        parentSpanId: "",
        name: `${method} ${request.path.split("?")[0]}`,
        kind: "CLIENT",
        start,
        end,
        attributes: {
          "http.request.method": method,
          "url.full": url,
          "http.request.header.x-request-id": [requestId],
          ...(status ? { "http.response.status_code": status } : {}),
        },
        events: [],
        links: [],
        status:
          status === 0 || status >= 500
            ? { code: "ERROR", message: "error" in response ? response.error : `HTTP ${status}` }
            : { code: "UNSET", message: "" },
        service: "dev-console",
        resource: { "service.name": "dev-console" },
      },
    ]);
    return { request: { method, url, headers: shown, body }, response, durationMs: end - start, traceId, requestId };
  }
}
