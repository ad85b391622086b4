import { create, fromBinary, getExtension, hasExtension, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { http } from "@shop/contracts/google/api/annotations_pb.js";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@shop/contracts/grpc/reflection/v1/reflection_pb.js";
import { PaymentService } from "@shop/contracts/shop/payments/v1/payments_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningGrpcServer, registration, startGrpcServer } from "./grpc-server.js";
import { createLogger } from "./logger.js";
import { fetchServedDescriptors, listServedServices } from "./reflection-client.js";
import { testTokenVerifier } from "./testing/credentials.js";

let server: RunningGrpcServer;
let channel: grpc.Client;

beforeAll(async () => {
  server = await startGrpcServer({
    registrations: [registration(PaymentService, {} as never)],
    tokens: testTokenVerifier(),
    logger: createLogger("test", "silent"),
    host: "127.0.0.1",
    port: 0,
  });
  channel = new grpc.Client(server.address, grpc.credentials.createInsecure());
});

afterAll(async () => {
  channel?.close();
  await server?.shutdown(0);
});

/** One request on the reflection stream of `service` (v1 or v1alpha), and its answer. */
function ask(
  service: string,
  request: Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1],
): Promise<ServerReflectionResponse> {
  const call = channel.makeBidiStreamRequest(
    `/${service}/ServerReflectionInfo`,
    (message: ServerReflectionRequest) => Buffer.from(toBinary(ServerReflectionRequestSchema, message)),
    (bytes: Buffer) => fromBinary(ServerReflectionResponseSchema, bytes),
    new grpc.Metadata(),
    { deadline: Date.now() + 5_000 },
  );
  return new Promise((resolve, reject) => {
    call.on("data", (response: ServerReflectionResponse) => {
      resolve(response);
      call.end();
    });
    call.on("error", reject);
    call.write(create(ServerReflectionRequestSchema, request));
  });
}

describe("server reflection", () => {
  it("serves each file as declared, custom method options included", async () => {
    const registry = await fetchServedDescriptors(channel, [PaymentService.typeName], 5_000);
    const method = registry.getService(PaymentService.typeName)!.methods.find((m) => m.name === "GetOrderPayment")!;
    const options = method.proto.options!;
    expect(hasExtension(options, http)).toBe(true);
    expect(getExtension(options, http).pattern).toEqual({ case: "get", value: "/v1/orders/{order_id}/payment" });
  });

  it("answers v1alpha clients as v1 ones, and names what it does not know", async () => {
    expect(await listServedServices(channel, 5_000)).toEqual([PaymentService.typeName, "grpc.health.v1.Health"]);
    const listed = await ask("grpc.reflection.v1alpha.ServerReflection", { messageRequest: { case: "listServices", value: "" } });
    expect(listed.messageResponse.case).toBe("listServicesResponse");

    const extension = await ask("grpc.reflection.v1.ServerReflection", {
      messageRequest: {
        case: "fileContainingExtension",
        value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 72295728 },
      },
    });
    expect(extension.messageResponse.case).toBe("fileDescriptorResponse");
    const numbers = await ask("grpc.reflection.v1.ServerReflection", {
      messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" },
    });
    expect(numbers.messageResponse.case === "allExtensionNumbersResponse" && numbers.messageResponse.value.extensionNumber).toContain(
      72295728,
    );

    const unknown = await ask("grpc.reflection.v1.ServerReflection", {
      messageRequest: { case: "fileContainingSymbol", value: "shop.nothing.v1.Nothing" },
    });
    expect(unknown.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: grpc.status.NOT_FOUND } });
  });
});
