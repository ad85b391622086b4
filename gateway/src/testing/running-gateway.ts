import type { AddressInfo } from "node:net";
import type { ShopContext } from "@shop/contracts";
import { envPrefix } from "@shop/runtime";
import { credentialsEnv } from "@shop/runtime/testing";
import { loadGatewayConfig } from "../config.js";
import { buildGateway, type GatewayDeps, type GatewayServer } from "../server.js";

/** An address nothing listens on: calls to it fail at once with UNAVAILABLE. */
export const closedAddress = "127.0.0.1:1";

export interface HttpReply {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined when empty). */
  body: any;
}

export interface RequestOptions {
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export interface RunningGateway {
  baseUrl: string;
  gateway: GatewayServer;
  request(method: string, path: string, options?: RequestOptions): Promise<HttpReply>;
}

export async function sendRequest(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<HttpReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  const response = await fetch(baseUrl + path, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

/** A gateway on port 0 in front of `addresses`, with rate limits out of the way unless `env` sets them. */
export async function startGateway(
  addresses: Record<ShopContext, string>,
  env: Record<string, string> = {},
  deps: GatewayDeps = {},
): Promise<RunningGateway> {
  const gateway = await buildGateway(
    loadGatewayConfig({
      ...Object.fromEntries(Object.entries(addresses).map(([context, address]) => [`${envPrefix(context as ShopContext)}_ADDR`, address])),
      GATEWAY_RATE_LIMIT_CAPACITY: "100000",
      GATEWAY_RATE_LIMIT_REFILL_PER_SECOND: "100000",
      // The test run's own NATS (npm test starts one), for the Idempotency-Key store.
      ...(process.env.NATS_URL ? { NATS_URL: process.env.NATS_URL } : {}),
      LOG_LEVEL: "silent",
      ...credentialsEnv("gateway"),
      ...env,
    }),
    deps,
  );
  await new Promise<void>((resolve) => gateway.listen(0, "127.0.0.1", resolve));
  const baseUrl = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  return { baseUrl, gateway, request: (method, path, options) => sendRequest(baseUrl, method, path, options) };
}
