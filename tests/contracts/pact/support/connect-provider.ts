import http from "node:http";
import type { AddressInfo } from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import {
  authorizedCaller,
  contextFromHeaders,
  methodPolicy,
  principalKey,
  runWithContext,
  type ServiceRegistration,
  validateMessage,
} from "@shop/runtime";
import { serviceToken, testTokenVerifier } from "@shop/runtime/testing";

const tokens = testTokenVerifier();

/**
 * What the gRPC server does around every handler, in front of the same handlers here: the
 * caller's credential is verified and the method's access policy applied, the request is
 * checked against the contract's rules, and the handler runs in the caller's work context
 * (correlation id, deadline, trace).
 */
const asServed: Interceptor = (next) => async (req) => {
  const caller = await authorizedCaller(req.method, methodPolicy(req.method), tokens, req.header.get("authorization") ?? undefined);
  req.contextValues.set(principalKey, caller);
  if (!req.stream) validateMessage(req.method.input, req.message);
  const timeoutMs = Number(req.header.get("connect-timeout-ms") ?? Number.NaN);
  const deadline = Number.isFinite(timeoutMs) ? Date.now() + timeoutMs : undefined;
  return runWithContext(
    contextFromHeaders((key) => req.header.get(key) ?? undefined, deadline),
    () => next(req),
  );
};

export interface ConnectProvider {
  /** Base URL of the Connect protocol endpoint (JSON over HTTP/1.1), for Pact's verifier. */
  url: string;
  stop(): Promise<void>;
}

/**
 * Serves a provider's real handlers (the ServiceImpl its build function registers) over the
 * Connect protocol on HTTP/1.1, which Pact can replay interactions against.
 */
export async function serveOverConnect(registration: ServiceRegistration): Promise<ConnectProvider> {
  const server = http.createServer(
    connectNodeAdapter({
      routes: (router) => router.service(registration.service, registration.impl as unknown as ServiceImpl<DescService>),
      interceptors: [asServed],
    }),
  );
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

/** Calls carry the orders service's credential, as orders calls the providers its pacts are with, unless they name another caller. */
const asOrders: Interceptor = (next) => (req) => {
  if (!req.header.has("authorization")) req.header.set("authorization", `Bearer ${serviceToken("orders")}`);
  return next(req);
};

/** A typed client speaking the Connect protocol with JSON, as the orders service on the consumer side of a pact does. */
export function connectJsonClient<S extends DescService>(service: S, baseUrl: string): Client<S> {
  return createClient(service, createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false, interceptors: [asOrders] }));
}
