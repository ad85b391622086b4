import { execFile } from "node:child_process";
import path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type InteropCall, type StartedService, servicesUnderTest } from "./services.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");
const buf = path.join(repoRoot, "node_modules/.bin/buf");
const reflectionProto = path.join(repoRoot, "node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto");
const healthService = "grpc.health.v1.Health";

interface BufResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `buf curl` against a server that only offers reflection: no local protos anywhere. */
function bufCurl(port: number, flags: string[], urlPath = ""): Promise<BufResult> {
  return new Promise((resolve, reject) => {
    execFile(
      buf,
      ["curl", "--http2-prior-knowledge", "--protocol", "grpc", ...flags, `http://127.0.0.1:${port}${urlPath}`],
      { cwd: repoRoot, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ exitCode: error ? Number(error.code) : 0, stdout, stderr });
      },
    );
  });
}

function bufCurlCall(port: number, service: string, call: InteropCall): Promise<BufResult> {
  const headers = Object.entries(call.metadata ?? {}).flatMap(([key, value]) => ["-H", `${key}: ${value}`]);
  return bufCurl(port, [...headers, "-d", JSON.stringify(call.request)], `/${service}/${call.method}`);
}

// The reflection.v1 messages as proto-loader decodes them (keepCase, oneofs).
interface ReflectionRequest {
  list_services?: string;
  file_containing_symbol?: string;
}

interface ReflectionResponse {
  message_response: "list_services_response" | "file_descriptor_response" | "error_response";
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

/** One ServerReflectionInfo bidi stream with a stock grpc-js client: every request, then every answer. */
async function reflect(port: number, requests: ReflectionRequest[]): Promise<ReflectionResponse[]> {
  const definition = protoLoader.loadSync(reflectionProto, { keepCase: true, oneofs: true, defaults: true });
  const service = definition["grpc.reflection.v1.ServerReflection"] as grpc.ServiceDefinition;
  const method = service.ServerReflectionInfo!;
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const stream = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, new grpc.Metadata(), {
      deadline: Date.now() + 10_000,
    });
    const responses: ReflectionResponse[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on("data", (response: ReflectionResponse) => responses.push(response));
      stream.on("error", reject);
      stream.on("end", resolve);
    });
    for (const request of requests) stream.write(request);
    stream.end();
    await done;
    return responses;
  } finally {
    client.close();
  }
}

describe.each(servicesUnderTest)("$context through server reflection", (entry) => {
  const serviceName = entry.service.typeName;
  let started: StartedService;

  beforeAll(async () => {
    started = await entry.start();
  });

  afterAll(async () => {
    await started?.stop();
  });

  it("lists its service and the health service with buf curl --list-services", async () => {
    const result = await bufCurl(started.port, ["--list-services"]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim().split("\n")).toEqual(expect.arrayContaining([serviceName, healthService]));
  });

  it("lists every method of its contract with buf curl --list-methods", async () => {
    const result = await bufCurl(started.port, ["--list-methods"]);
    expect(result.exitCode).toBe(0);
    const listed = result.stdout.trim().split("\n");
    expect(listed).toEqual(expect.arrayContaining(entry.service.methods.map((m) => `${serviceName}/${m.name}`)));
    expect(listed).toContain(`${healthService}/Check`);
  });

  it(`calls ${entry.success.method} with buf curl, learning the schema from reflection`, async () => {
    const result = await bufCurlCall(started.port, serviceName, entry.success);
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject(entry.success.response);
  });

  it.each([
    ["the server", ""],
    ["its own service", serviceName],
  ])("reports %s SERVING to buf curl", async (_label, name) => {
    const result = await bufCurlCall(started.port, healthService, { method: "Check", request: { service: name } });
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ status: "SERVING" });
  });

  it("shows buf curl the error code and message of a failing call", async () => {
    const failure = entry.failures[0]!;
    const result = await bufCurlCall(started.port, serviceName, failure);
    expect(result.exitCode).not.toBe(0);
    const error = JSON.parse(result.stderr) as { code: string; message: string };
    expect(error.code).toBe(failure.code.toLowerCase());
    expect(error.message).toContain(failure.messageContains);
  });

  it("rejects in buf curl a request field the contract does not have", async () => {
    const result = await bufCurl(started.port, ["-d", JSON.stringify({ noSuchField: 1 })], `/${serviceName}/${entry.success.method}`);
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toContain("noSuchField");
  });

  it("answers a raw ServerReflectionInfo stream: services, descriptors, and NOT_FOUND for unknown symbols", async () => {
    const [listed, descriptors, unknown] = await reflect(started.port, [
      { list_services: "" },
      { file_containing_symbol: serviceName },
      { file_containing_symbol: "shop.nothing.v1.NothingService" },
    ]);
    expect(listed?.list_services_response?.service.map((s) => s.name)).toEqual(expect.arrayContaining([serviceName, healthService]));

    const files =
      descriptors?.file_descriptor_response?.file_descriptor_proto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes)) ?? [];
    const own = files.find((file) => file.name === entry.service.file.proto.name);
    expect(own?.service.map((s) => s.name)).toContain(entry.service.name);

    expect(unknown?.message_response).toBe("error_response");
    expect(unknown?.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
  });
});
