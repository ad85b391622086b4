import { randomUUID } from "node:crypto";
import type { DescMethod } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Health } from "@shop/contracts/grpc/health/v1/health_pb.js";
import { generateDevelopmentKey, type MethodPolicy, methodPolicy } from "@shop/runtime";
import { serviceToken, signedUserToken, userToken } from "@shop/runtime/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedService, servicesUnderTest } from "./services.js";
import { callStock, type StockClient, stockClientConstructor } from "./stock-client.js";

/**
 * The access table, generated from the contracts: every method of every service, called by each
 * kind of caller, gets exactly what its declared policy says. A new method is in the table by
 * being in the contract.
 */

type Expected = "UNAUTHENTICATED" | "PERMISSION_DENIED" | "PASSES";

interface Caller {
  name: string;
  authorization?: () => string;
  expected(policy: MethodPolicy): Expected;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const usersKid = () => JSON.parse(process.env.AUTH_USER_TOKEN_KEYS!).keys[0].kid as string;
const adminClaims = () => ({
  sub: randomUUID(),
  role: "admin",
  iss: "shop-users",
  aud: "shop-api",
  iat: nowSeconds(),
  exp: nowSeconds() + 600,
});
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
const bearer = (token: string) => `Bearer ${token}`;

const whenAllowed =
  (allowed: (policy: MethodPolicy) => boolean) =>
  (policy: MethodPolicy): Expected =>
    allowed(policy) ? "PASSES" : "PERMISSION_DENIED";
const refusedAlways = (): Expected => "UNAUTHENTICATED";
/** Services named in any policy, one that is named nowhere, and the gateway (which calls as its users, never as itself). */
const serviceCallers = ["orders", "payments", "gateway", "intruder"];

const callers: Caller[] = [
  { name: "no credential", expected: (policy) => (policy.anonymous ? "PASSES" : "UNAUTHENTICATED") },
  {
    name: "a customer",
    authorization: () => bearer(userToken(randomUUID(), "customer")),
    expected: whenAllowed((p) => p.anonymous || p.customers || p.owners),
  },
  {
    name: "an admin",
    authorization: () => bearer(userToken(randomUUID(), "admin")),
    expected: whenAllowed((p) => p.anonymous || p.customers || p.owners || p.admins),
  },
  ...serviceCallers.map((service) => ({
    name: `service ${service}`,
    authorization: () => bearer(serviceToken(service)),
    expected: whenAllowed((p) => p.anonymous || p.services.has(service)),
  })),
  {
    name: "an admin token signed with another key under the real kid",
    authorization: () => {
      const attacker = generateDevelopmentKey();
      return bearer(signedUserToken(adminClaims(), { kid: usersKid(), jwk: { ...attacker.jwk, kid: usersKid() } }));
    },
    expected: refusedAlways,
  },
  {
    name: 'an unsigned admin token (alg "none")',
    authorization: () => bearer(`${base64url({ alg: "none", typ: "JWT" })}.${base64url(adminClaims())}.`),
    expected: refusedAlways,
  },
  {
    name: "an expired admin token",
    authorization: () => bearer(signedUserToken({ ...adminClaims(), iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 })),
    expected: refusedAlways,
  },
  {
    name: "a service token minted with the users service's key",
    authorization: () =>
      bearer(
        signedUserToken({
          sub: "system:serviceaccount:shop:orders",
          iss: "shop-platform",
          aud: "shop-services",
          iat: nowSeconds(),
          exp: nowSeconds() + 600,
        }),
      ),
    expected: refusedAlways,
  },
  {
    name: "a customer token for another audience",
    authorization: () => bearer(signedUserToken({ ...adminClaims(), role: "customer", aud: "another-api" })),
    expected: refusedAlways,
  },
  { name: "a header that is not a bearer token", authorization: () => "Basic YWRtaW46YWRtaW4=", expected: refusedAlways },
];

/** What the call got, as the table reads it: a refusal of the policy layer, or anything else (the handler ran). */
function outcomeOf(result: Awaited<ReturnType<typeof callStock>>): { seen: Expected; detail: string } {
  if (result.ok) return { seen: "PASSES", detail: "OK" };
  const { code, details } = result.error;
  if (code === grpc.status.UNAUTHENTICATED) return { seen: "UNAUTHENTICATED", detail: details };
  if (code === grpc.status.PERMISSION_DENIED && details.includes("may not call")) return { seen: "PERMISSION_DENIED", detail: details };
  return { seen: "PASSES", detail: `${grpc.status[code]}: ${details}` };
}

describe.each(servicesUnderTest)("$context: every method answers each caller as its policy says", (entry) => {
  let started: StartedService;
  let client: StockClient;
  let health: StockClient;

  beforeAll(async () => {
    started = await entry.start();
    const address = `127.0.0.1:${started.port}`;
    client = new (stockClientConstructor(entry.service))(address, grpc.credentials.createInsecure());
    health = new (stockClientConstructor(Health))(address, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    health?.close();
    await started?.stop();
  });

  const table = entry.service.methods.flatMap((method: DescMethod) =>
    callers.map((caller) => ({ method: method.name, caller: caller.name, expected: caller.expected(methodPolicy(method)), make: caller })),
  );

  it.each(table)("$method called by $caller: $expected", async ({ method, make, expected }) => {
    const authorization = make.authorization?.();
    const result = await callStock(client, entry.service, {
      method,
      request: {},
      metadata: authorization ? { authorization } : {},
    });
    const { seen, detail } = outcomeOf(result);
    expect({ seen, detail }).toMatchObject({ seen: expected });
  });

  it("keeps health open to callers without a credential", async () => {
    const result = await callStock(health, Health, { method: "Check", request: { service: "" } });
    expect(result.ok).toBe(true);
  });
});
