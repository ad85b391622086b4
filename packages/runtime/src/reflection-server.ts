import { create, createRegistry, type DescFile, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import {
  type ServerReflectionRequest,
  ServerReflectionRequestSchema,
  type ServerReflectionResponse,
  ServerReflectionResponseSchema,
} from "@shop/contracts/grpc/reflection/v1/reflection_pb.js";

type Answer = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/** v1alpha is v1 under another name, message for message on the wire; older clients (grpcurl) ask for it. */
const reflectionServices = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

const notFound = (what: string): Answer => ({
  case: "errorResponse",
  value: { errorCode: grpc.status.NOT_FOUND, errorMessage: `${what} not found` },
});

/**
 * gRPC server reflection (v1 and v1alpha) of `files` and everything they import, answering with
 * each file's own serialized descriptor, so custom options (`google.api.http`, an authorization
 * policy) reach clients as declared: a library that decodes and encodes the files again with
 * descriptors of its own drops every option it does not know.
 */
export function addReflection(server: grpc.Server, files: readonly DescFile[], serviceNames: readonly string[]): void {
  const byName = new Map<string, DescFile>();
  const visit = (file: DescFile) => {
    if (byName.has(file.proto.name)) return;
    byName.set(file.proto.name, file);
    file.dependencies.forEach(visit);
  };
  files.forEach(visit);
  const encoded = new Map([...byName].map(([name, file]) => [name, toBinary(FileDescriptorProtoSchema, file.proto)]));
  const registry = createRegistry(...byName.values());

  /** A file and everything it imports, the file first. */
  const withImports = (file: DescFile): Uint8Array[] => {
    const names = new Set<string>();
    const add = (each: DescFile) => {
      if (names.has(each.proto.name)) return;
      names.add(each.proto.name);
      each.dependencies.forEach(add);
    };
    add(file);
    return [...names].map((name) => encoded.get(name)!);
  };
  const filesOf = (file: DescFile | undefined, what: string): Answer =>
    file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: withImports(file) } } : notFound(what);

  /** The file declaring `symbol`: a message, enum, service or extension, or a method, field or value of one. */
  const fileOf = (symbol: string): DescFile | undefined => {
    const found = registry.get(symbol) ?? registry.get(symbol.slice(0, symbol.lastIndexOf(".")));
    return found?.file;
  };
  const extensionsOf = (typeName: string) =>
    [...registry].flatMap((type) => (type.kind === "extension" && type.extendee.typeName === typeName ? [type] : []));

  const answer = ({ messageRequest: asked }: ServerReflectionRequest): Answer => {
    switch (asked.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: serviceNames.map((name) => ({ name })) } };
      case "fileByFilename":
        return filesOf(byName.get(asked.value), `file ${asked.value}`);
      case "fileContainingSymbol":
        return filesOf(fileOf(asked.value), `symbol ${asked.value}`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = asked.value;
        const extension = extensionsOf(containingType).find((candidate) => candidate.number === extensionNumber);
        return filesOf(extension?.file, `extension ${extensionNumber} of ${containingType}`);
      }
      case "allExtensionNumbersOfType":
        if (!registry.getMessage(asked.value)) return notFound(`type ${asked.value}`);
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: asked.value, extensionNumber: extensionsOf(asked.value).map((extension) => extension.number) },
        };
      default:
        return { case: "errorResponse", value: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: "the request asks nothing" } };
    }
  };

  const handler: grpc.handleBidiStreamingCall<ServerReflectionRequest, ServerReflectionResponse> = (call) => {
    call.on("data", (request: ServerReflectionRequest) => {
      call.write(
        create(ServerReflectionResponseSchema, { validHost: request.host, originalRequest: request, messageResponse: answer(request) }),
      );
    });
    call.on("end", () => call.end());
  };
  for (const service of reflectionServices) {
    server.addService(
      {
        serverReflectionInfo: {
          path: `/${service}/ServerReflectionInfo`,
          requestStream: true,
          responseStream: true,
          requestSerialize: (message: ServerReflectionRequest) => Buffer.from(toBinary(ServerReflectionRequestSchema, message)),
          requestDeserialize: (bytes: Buffer) => fromBinary(ServerReflectionRequestSchema, bytes),
          responseSerialize: (message: ServerReflectionResponse) => Buffer.from(toBinary(ServerReflectionResponseSchema, message)),
          responseDeserialize: (bytes: Buffer) => fromBinary(ServerReflectionResponseSchema, bytes),
        },
      },
      { serverReflectionInfo: handler },
    );
  }
}
