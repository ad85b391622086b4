import http from "node:http";

/** A non-2xx answer, with the gateway's error body (`{code, message}`) when it sent one. */
export class HttpStatusError extends Error {
  override name = "HttpStatusError";
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
  }
}

export interface JsonClient {
  request<T = unknown>(method: string, path: string, options?: { body?: unknown; headers?: Record<string, string> }): Promise<T>;
  close(): void;
}

/**
 * JSON over HTTP/1.1 keep-alive connections to one origin, at most `maxSockets` at once.
 * `node:http` rather than `fetch`: on a 2-core machine the load generator's own CPU use
 * comes out of the system under test's share, and this client spends less of it.
 */
export function createJsonClient(baseUrl: string, maxSockets: number): JsonClient {
  const origin = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  return {
    request<T>(method: string, path: string, options: { body?: unknown; headers?: Record<string, string> } = {}) {
      const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
      return new Promise<T>((resolve, reject) => {
        const req = http.request(
          {
            agent,
            host: origin.hostname,
            port: origin.port,
            method,
            path,
            headers: {
              accept: "application/json",
              ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
              ...options.headers,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("error", reject);
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8");
              let body: unknown = text;
              try {
                body = text ? JSON.parse(text) : undefined;
              } catch {
                // not JSON: keep the text for the error message
              }
              const status = res.statusCode ?? 0;
              if (status >= 200 && status < 300) resolve(body as T);
              else reject(new HttpStatusError(status, body));
            });
          },
        );
        req.on("error", reject);
        req.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}
