import { type DescMessage, type DescService, fromBinary, fromJson, type Message, toBinary, toJson } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { InteropCall } from "./services.js";

// What any gRPC user does without our code: a generic grpc-js client whose serializers are
// the protobuf-es schemas' own binary codec.
export function stockClientConstructor(service: DescService): grpc.ServiceClientConstructor {
  const definition: Record<string, grpc.MethodDefinition<Message, Message>> = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      originalName: method.localName,
      requestStream: false,
      responseStream: false,
      requestSerialize: (message: Message) => Buffer.from(toBinary(method.input, message)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: Message) => Buffer.from(toBinary(method.output, message)),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
  }
  return grpc.makeGenericClientConstructor(definition, service.name);
}

export type StockClient = InstanceType<grpc.ServiceClientConstructor>;
export type CallOutcome = { ok: true; response: Message } | { ok: false; error: grpc.ServiceError };

export function callStock(client: StockClient, service: DescService, call: InteropCall): Promise<CallOutcome> {
  const method = service.methods.find((m) => m.name === call.method);
  if (!method) throw new Error(`${service.typeName} has no method ${call.method}`);
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(call.metadata ?? {})) metadata.set(key, value);
  return new Promise((resolve) => {
    client[method.name]!(
      fromJson(method.input, call.request),
      metadata,
      { deadline: Date.now() + 10_000 },
      (error: grpc.ServiceError | null, response: Message) => resolve(error ? { ok: false, error } : { ok: true, response }),
    );
  });
}

export function responseJson(service: DescService, methodName: string, response: Message) {
  const output = service.methods.find((m) => m.name === methodName)!.output as DescMessage;
  return toJson(output, response as never);
}
