import http from "node:http";
import type { AddressInfo } from "node:net";

export type JsonRewrite = (body: Record<string, unknown>) => void;

export interface DriftingProxy {
  url: string;
  stop(): Promise<void>;
}

/**
 * Stands in front of a real provider and changes its JSON answers with `rewrite`: how a
 * provider that dropped or retyped a field would answer, for proving that verification fails.
 */
export async function startDriftingProxy(targetUrl: string, rewrite: JsonRewrite): Promise<DriftingProxy> {
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => name !== "host" && name !== "content-length"),
    ) as Record<string, string>;
    const upstream = await fetch(new URL(req.url ?? "/", targetUrl), {
      method: req.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    let body = await upstream.text();
    if (upstream.headers.get("content-type")?.startsWith("application/json")) {
      const json = JSON.parse(body) as Record<string, unknown>;
      rewrite(json);
      body = JSON.stringify(json);
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/octet-stream" });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
