import { setMaxListeners } from "node:events";
import { create, type DescMethod, type DescService, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  createContextValues,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { getAbortSignalReason } from "@connectrpc/connect/protocol";
import * as grpc from "@grpc/grpc-js";
import type { ServiceCredential } from "./auth/tokens.js";
import { errorFromStatus, headersFromMetadata } from "./grpc-wire.js";
import { type BoundRpcMetrics, rpcClientMetrics } from "./metrics.js";
import { currentContext, metadataKeys, remainingMs } from "./request-context.js";
import { SpanKind, startSpan } from "./tracing.js";

/** What a client needs per method, made once: its path, codec, span name and metric series. */
export interface MethodStub {
  readonly path: string;
  /** `package.Service/Method`: span name and metric label. */
  readonly label: string;
  readonly serialize: (message: unknown) => Buffer;
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly spanAttributes: Readonly<Record<string, string>>;
  readonly metrics: BoundRpcMetrics;
}

const stubs = new WeakMap<DescMethod, MethodStub>();

export function methodStub(method: DescMethod): MethodStub {
  let stub = stubs.get(method);
  if (!stub) {
    const label = `${method.parent.typeName}/${method.name}`;
    const { input, output } = method;
    stub = {
      path: `/${label}`,
      label,
      // toBinary needs a real message; callers may hand over plain init objects.
      serialize: (message) => Buffer.from(toBinary(input, isMessage(message, input) ? message : create(input, message as never))),
      deserialize: (bytes) => fromBinary(output, bytes),
      spanAttributes: { "rpc.system": "grpc", "rpc.service": method.parent.typeName, "rpc.method": method.name },
      metrics: rpcClientMetrics(label),
    };
    stubs.set(method, stub);
  }
  return stub;
}

export interface UnaryCallOptions {
  /** Absolute deadline, epoch ms. */
  deadline: number;
  metadata: grpc.Metadata;
  /** Cancels the call when it aborts. */
  signal?: AbortSignal;
  /** Handed the call as soon as it starts, for callers that cancel it another way. */
  onStart?: (call: grpc.ClientUnaryCall) => void;
}

export interface UnaryCallResult {
  message: unknown;
  /** Response headers and trailers, for the few callers that read them. */
  header?: grpc.Metadata;
  trailer: grpc.Metadata;
}

/**
 * One unary call on a grpc-js client channel, with a client span (the current work's trace as
 * parent, unless `metadata` carries a `traceparent`) and RPC metrics. Rejects with a ConnectError.
 */
export function callUnary(channel: grpc.Client, stub: MethodStub, message: unknown, options: UnaryCallOptions): Promise<UnaryCallResult> {
  const { metadata, signal } = options;
  if (signal?.aborted) return Promise.reject(ConnectError.from(getAbortSignalReason(signal)));
  const explicit = metadata.get(metadataKeys.traceparent)[0];
  const context = currentContext();
  const span = startSpan(stub.label, SpanKind.CLIENT, explicit ? { traceparent: String(explicit) } : (context ?? {}), stub.spanAttributes);
  if (span.carrier.traceparent) metadata.set(metadataKeys.traceparent, span.carrier.traceparent);
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    let value: unknown;
    let header: grpc.Metadata | undefined;
    const call = channel.makeUnaryRequest(
      stub.path,
      stub.serialize,
      stub.deserialize,
      message,
      metadata,
      { deadline: options.deadline },
      (_err, result) => {
        value = result;
      },
    );
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    call.on("metadata", (received: grpc.Metadata) => {
      header = received;
    });
    call.on("status", (status: grpc.StatusObject) => {
      signal?.removeEventListener("abort", onAbort);
      stub.metrics.observe(status.code, (performance.now() - startedAt) / 1000);
      if (signal?.aborted) {
        const error = ConnectError.from(getAbortSignalReason(signal));
        span.end(error);
        return reject(error);
      }
      if (status.code !== grpc.status.OK) {
        const error = errorFromStatus(status);
        span.end(error);
        return reject(error);
      }
      span.end();
      resolve({ message: value, header, trailer: status.metadata });
    });
    options.onStart?.(call);
  });
}

export interface GrpcTransportOptions {
  /** `host:port` of the upstream. */
  address: string;
  /** The credential calls carry when the caller sets no `authorization` of its own: this service's. */
  credential?: ServiceCredential;
  interceptors?: Interceptor[];
  /** Deadline of a call when the caller gives none. */
  defaultTimeoutMs?: number;
  channelOptions?: grpc.ChannelOptions;
}

/** The signal of calls whose caller gave none: nothing aborts them but their deadline. */
const neverAborted = new AbortController().signal;
// Interceptors (a bulkhead's queue) listen on it for every call in flight.
setMaxListeners(0, neverAborted);

export interface ClosableTransport extends Transport {
  close(): void;
}

/**
 * Metadata of an outgoing call: the caller's headers, and unless they set them, the current
 * work's correlation id and trace state and this service's credential.
 */
function outgoingMetadata(header: ConstructorParameters<typeof Headers>[0], credential: ServiceCredential | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (header) {
    new Headers(header).forEach((value, key) => {
      if (key.startsWith("grpc-")) return;
      if (key.endsWith("-bin")) metadata.add(key, Buffer.from(value, "base64"));
      else metadata.add(key, value);
    });
  }
  const context = currentContext();
  if (context) {
    if (metadata.get(metadataKeys.correlationId).length === 0) metadata.set(metadataKeys.correlationId, context.correlationId);
    if (context.tracestate && metadata.get(metadataKeys.tracestate).length === 0) metadata.set(metadataKeys.tracestate, context.tracestate);
  }
  if (credential && metadata.get("authorization").length === 0) metadata.set("authorization", `Bearer ${credential.token()}`);
  return metadata;
}

/**
 * A Connect Transport over a @grpc/grpc-js channel: typed Connect clients with the faster
 * client stack. One long-lived HTTP/2 channel per upstream. Every call carries a deadline
 * (the smaller of its own and the current work's) and the correlation id and trace context.
 */
export function createGrpcJsTransport(options: GrpcTransportOptions): ClosableTransport {
  const channel = new grpc.Client(options.address, grpc.credentials.createInsecure(), {
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_permit_without_calls": 1,
    ...options.channelOptions,
  });
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 10_000;
  const interceptors = options.interceptors ?? [];

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const inherited = remainingMs();
      // Counted from the call, not from when it leaves: time waiting in an interceptor (a bulkhead queue) is spent.
      const deadline = Date.now() + Math.min(timeoutMs ?? defaultTimeoutMs, inherited ?? Number.POSITIVE_INFINITY);
      const stub = methodStub(method);
      type Input = typeof method.input;
      type Output = typeof method.output;
      const respond = async (metadata: grpc.Metadata, message: unknown, callSignal: AbortSignal | undefined) => {
        const result = await callUnary(channel, stub, message, { deadline, metadata, signal: callSignal });
        // Few callers read response headers or trailers: they are converted when read.
        let responseHeader: Headers | undefined;
        let responseTrailer: Headers | undefined;
        return {
          stream: false,
          service: method.parent,
          method,
          get header() {
            return (responseHeader ??= headersFromMetadata(result.header));
          },
          get trailer() {
            return (responseTrailer ??= headersFromMetadata(result.trailer));
          },
          message: result.message,
        } as UnaryResponse<Input, Output>;
      };
      const message = isMessage(input, method.input) ? input : create(method.input, input);
      if (interceptors.length === 0) return respond(outgoingMetadata(header, options.credential), message, signal);
      // Interceptors are applied here rather than by Connect's call runner, which links a new
      // abort controller and deadline timer to every call and aborts them after it, when
      // grpc-js enforces the deadline itself.
      const send = (req: UnaryRequest<Input, Output>) => respond(outgoingMetadata(req.header, options.credential), req.message, req.signal);
      const requestHeader = new Headers(header);
      const context = currentContext();
      if (context && !requestHeader.has(metadataKeys.correlationId)) requestHeader.set(metadataKeys.correlationId, context.correlationId);
      const chain = interceptors.reduceRight((next, interceptor) => interceptor(next), send as unknown as Parameters<Interceptor>[0]);
      return (await chain({
        stream: false,
        service: method.parent,
        method,
        requestMethod: "POST",
        url: `grpc://${options.address}${stub.path}`,
        header: requestHeader,
        contextValues: contextValues ?? createContextValues(),
        signal: signal ?? neverAborted,
        message,
      })) as UnaryResponse<Input, Output>;
    },
    stream() {
      return Promise.reject(new ConnectError("streaming calls are not used between shop services", Code.Unimplemented));
    },
    close() {
      channel.close();
    },
  };
}

/** A typed client for `service` at `address`, over the grpc-js transport. */
export function createServiceClient<S extends DescService>(service: S, options: GrpcTransportOptions): Client<S> & { close(): void } {
  const transport = createGrpcJsTransport(options);
  return Object.assign(createClient(service, transport), { close: () => transport.close() });
}
