import { create, type DescMessage, type DescService, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";

const statusDetailsKey = "grpc-status-details-bin";

// toBinary needs a real message; handlers and callers may hand over plain init objects.
const serializer = (schema: DescMessage) => (value: unknown) =>
  Buffer.from(toBinary(schema, isMessage(value, schema) ? value : create(schema, value as never)));
const deserializer = (schema: DescMessage) => (bytes: Buffer) => fromBinary(schema, bytes);

/** A grpc-js service definition built from a protobuf-es descriptor: one descriptor drives both stacks. */
export function grpcServiceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    definition[method.localName] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.name,
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializer(method.input),
      requestDeserialize: deserializer(method.input),
      responseSerialize: serializer(method.output),
      responseDeserialize: deserializer(method.output),
    };
  }
  return definition;
}

export function headersFromMetadata(metadata: grpc.Metadata | undefined): Headers {
  const headers = new Headers();
  if (!metadata) return headers;
  for (const [key, values] of Object.entries(metadata.toJSON())) {
    for (const value of values as (string | Buffer)[]) {
      headers.append(key, typeof value === "string" ? value : value.toString("base64"));
    }
  }
  return headers;
}

export function metadataFromHeaders(headers: Headers | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers?.forEach((value, key) => {
    if (key.startsWith("grpc-") && key !== statusDetailsKey) return;
    if (key.endsWith("-bin")) metadata.add(key, Buffer.from(value, "base64"));
    else metadata.add(key, value);
  });
  return metadata;
}

/** ConnectError -> gRPC status, keeping code, message, metadata and details (google.rpc.Status). */
export function statusFromError(err: ConnectError): Partial<grpc.StatusObject> {
  const metadata = metadataFromHeaders(err.metadata);
  const details = setTrailerStatus(new Headers(), err).get(statusDetailsKey);
  if (details) metadata.set(statusDetailsKey, Buffer.from(details, "base64"));
  return { code: err.code as number as grpc.status, details: err.rawMessage, metadata };
}

/** gRPC status -> ConnectError, the inverse of statusFromError. */
export function errorFromStatus(status: grpc.StatusObject): ConnectError {
  const headers = headersFromMetadata(status.metadata);
  if (headers.has(statusDetailsKey)) {
    headers.set("grpc-status", String(status.code));
    const fromTrailer = findTrailerError(headers);
    if (fromTrailer) return fromTrailer;
  }
  const code = status.code >= 1 && status.code <= 16 ? (status.code as number as Code) : Code.Unknown;
  return new ConnectError(status.details, code, headers);
}
