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

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
}

export interface JsonClient {
  /** Sends once more when a reused keep-alive connection turns out closed, if the request is repeatable. */
  request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
  close(): void;
}

/** Safe to send twice: the method says so, or the server deduplicates by Idempotency-Key. */
const repeatable = (method: string, headers: Record<string, string> = {}) =>
  ["GET", "HEAD", "PUT", "DELETE"].includes(method) || Object.keys(headers).some((name) => name.toLowerCase() === "idempotency-key");

/**
 * JSON over HTTP/1.1 keep-alive connections to one origin, at most `maxSockets` at once.
 * `node:http` rather than `fetch`: on a 2-core machine the load generator's own CPU use
 * comes out of the system under test's share, and this client spends less of it.
 */
export function createJsonClient(baseUrl: string, maxSockets: number): JsonClient {
  const origin = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const send = <T>(method: string, path: string, options: RequestOptions, resendsLeft: number): Promise<T> => {
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
      req.on("error", (err: NodeJS.ErrnoException) => {
        // The server closed an idle keep-alive connection just as it was reused: it processed nothing.
        const staleSocket = req.reusedSocket && err.code === "ECONNRESET";
        if (staleSocket && resendsLeft > 0 && repeatable(method, options.headers)) resolve(send<T>(method, path, options, resendsLeft - 1));
        else reject(err);
      });
      req.end(payload);
    });
  };
  return {
    request: <T>(method: string, path: string, options: RequestOptions = {}) => send<T>(method, path, options, 1),
    close: () => agent.destroy(),
  };
}
