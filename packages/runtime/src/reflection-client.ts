import { create, createFileRegistry, type FileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import {
  ServerReflection,
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@shop/contracts/grpc/reflection/v1/reflection_pb.js";

const reflectionPath = `/${ServerReflection.typeName}/${ServerReflection.method.serverReflectionInfo.name}`;

type RequestInit = ServerReflectionRequest["messageRequest"];

/** Files with every import before its importer, as a FileDescriptorSet must list them. */
function importsFirst(files: ReadonlyMap<string, FileDescriptorProto>): FileDescriptorProto[] {
  const ordered: FileDescriptorProto[] = [];
  const placed = new Set<string>();
  const place = (file: FileDescriptorProto) => {
    if (placed.has(file.name)) return;
    placed.add(file.name);
    for (const name of file.dependency) {
      const dependency = files.get(name);
      if (dependency) place(dependency);
    }
    ordered.push(file);
  };
  files.forEach(place);
  return ordered;
}

/**
 * Asks an upstream over gRPC server reflection for the files defining `symbols`, follows
 * imports it did not include, and builds a registry of everything it serves. A symbol the
 * upstream does not know (a service it no longer serves) is simply absent from the registry.
 */
export function fetchServedDescriptors(channel: grpc.Client, symbols: readonly string[], timeoutMs: number): Promise<FileRegistry> {
  const call = channel.makeBidiStreamRequest(
    reflectionPath,
    (request: ServerReflectionRequest) => Buffer.from(toBinary(ServerReflectionRequestSchema, request)),
    (bytes: Buffer) => fromBinary(ServerReflectionResponseSchema, bytes),
    new grpc.Metadata(),
    { deadline: Date.now() + timeoutMs },
  );
  const files = new Map<string, FileDescriptorProto>();
  const requestedFiles = new Set<string>();
  const unservedFiles: string[] = [];
  let outstanding = 0;
  const send = (messageRequest: RequestInit) => {
    outstanding += 1;
    call.write(create(ServerReflectionRequestSchema, { messageRequest }));
  };

  return new Promise<FileRegistry>((resolve, reject) => {
    call.on("data", (response: ServerReflectionResponse) => {
      outstanding -= 1;
      const asked = response.originalRequest?.messageRequest;
      if (response.messageResponse.case === "fileDescriptorResponse") {
        for (const bytes of response.messageResponse.value.fileDescriptorProto) {
          const file = fromBinary(FileDescriptorProtoSchema, bytes);
          files.set(file.name, file);
        }
      } else if (asked?.case === "fileByFilename") {
        unservedFiles.push(asked.value);
      }
      if (outstanding > 0) return;
      const missing = [...files.values()]
        .flatMap((file) => file.dependency)
        .filter((name) => !files.has(name) && !requestedFiles.has(name));
      if (missing.length === 0) {
        call.end();
        return;
      }
      for (const name of new Set(missing)) {
        requestedFiles.add(name);
        send({ case: "fileByFilename", value: name });
      }
    });
    call.on("error", reject);
    call.on("status", (status: grpc.StatusObject) => {
      if (status.code !== grpc.status.OK) return;
      if (unservedFiles.length > 0) {
        reject(new Error(`reflection does not serve ${unservedFiles.join(", ")}`));
        return;
      }
      try {
        resolve(createFileRegistry(create(FileDescriptorSetSchema, { file: importsFirst(files) })));
      } catch (err) {
        reject(new Error(`served descriptors do not form a complete set: ${(err as Error).message}`));
      }
    });
    for (const symbol of symbols) send({ case: "fileContainingSymbol", value: symbol });
    if (symbols.length === 0) call.end();
  });
}

/** The names of the services a server serves, as its reflection lists them. */
export function listServedServices(channel: grpc.Client, timeoutMs: number): Promise<string[]> {
  const call = channel.makeBidiStreamRequest(
    reflectionPath,
    (request: ServerReflectionRequest) => Buffer.from(toBinary(ServerReflectionRequestSchema, request)),
    (bytes: Buffer) => fromBinary(ServerReflectionResponseSchema, bytes),
    new grpc.Metadata(),
    { deadline: Date.now() + timeoutMs },
  );
  return new Promise<string[]>((resolve, reject) => {
    call.on("data", (response: ServerReflectionResponse) => {
      if (response.messageResponse.case === "listServicesResponse") resolve(response.messageResponse.value.service.map((s) => s.name));
      else reject(new Error(`reflection answered ${response.messageResponse.case ?? "nothing"} to a list of services`));
      call.end();
    });
    call.on("error", reject);
    call.write(create(ServerReflectionRequestSchema, { messageRequest: { case: "listServices", value: "" } }));
  });
}
