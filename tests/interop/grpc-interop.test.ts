import { fromBinary, fromJson, type Message, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { Health } from "@shop/contracts/grpc/health/v1/health_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedService, servicesUnderTest } from "./services.js";
import { callStock, responseJson, type StockClient, stockClientConstructor } from "./stock-client.js";

describe.each(servicesUnderTest)("$context answers a stock @grpc/grpc-js client", (entry) => {
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

  it(`${entry.success.method} succeeds and its response decodes`, async () => {
    const outcome = await callStock(client, entry.service, entry.success);
    if (!outcome.ok) throw new Error(`${entry.success.method} failed: ${outcome.error.message}`);
    expect(responseJson(entry.service, entry.success.method, outcome.response)).toMatchObject(entry.success.response);
  });

  it.each(entry.failures)("$method fails with $code and a message naming $messageContains", async (failure) => {
    const outcome = await callStock(client, entry.service, failure);
    if (outcome.ok) throw new Error(`${failure.method} succeeded, expected ${failure.code}`);
    expect(grpc.status[outcome.error.code]).toBe(failure.code);
    expect(outcome.error.details).toContain(failure.messageContains);
  });

  it("answers UNIMPLEMENTED for a method it does not have", async () => {
    const method = entry.service.methods[0]!;
    const error = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(
        `/${entry.service.typeName}/NoSuchMethod`,
        (message: Message) => Buffer.from(toBinary(method.input, message)),
        (bytes: Buffer) => fromBinary(method.output, bytes),
        fromJson(method.input, {}),
        (err: grpc.ServiceError | null) => resolve(err),
      ),
    );
    expect(error?.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it.each([
    ["the server", ""],
    ["its own service", entry.service.typeName],
  ])("reports %s SERVING through grpc.health.v1.Health/Check", async (_label, serviceName) => {
    const outcome = await callStock(health, Health, { method: "Check", request: { service: serviceName } });
    if (!outcome.ok) throw new Error(`health Check failed: ${outcome.error.message}`);
    expect(responseJson(Health, "Check", outcome.response)).toEqual({ status: "SERVING" });
  });

  it("answers NOT_FOUND to a health Check of a service it does not serve", async () => {
    const outcome = await callStock(health, Health, { method: "Check", request: { service: "shop.nothing.v1.NothingService" } });
    if (outcome.ok) throw new Error("health Check of an unknown service succeeded");
    expect(outcome.error.code).toBe(grpc.status.NOT_FOUND);
  });
});
