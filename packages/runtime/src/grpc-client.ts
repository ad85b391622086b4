import { setMaxListeners } from "node:events";
import { create, type DescService, fromBinary, isMessage, toBinary } from "@bufbuild/protobuf";
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
import { errorFromStatus, headersFromMetadata, metadataFromHeaders } from "./grpc-wire.js";
import { rpcMetrics } from "./metrics.js";
import { currentContext, propagationHeaders, remainingMs } from "./request-context.js";
import { SpanKind, startSpan } from "./tracing.js";

export interface GrpcTransportOptions {
  /** `host:port` of the upstream. */
  address: string;
  interceptors?: Interceptor[];
  /** Deadline of a call when the caller gives none. */
  defaultTimeoutMs?: number;
  channelOptions?: grpc.ChannelOptions;
}

type InterceptedFn = Parameters<Interceptor>[0];

/** The signal of calls whose caller gave none: nothing aborts them but their deadline. */
const neverAborted = new AbortController().signal;
// Interceptors (a bulkhead's queue) listen on it for every call in flight.
setMaxListeners(0, neverAborted);

export interface ClosableTransport extends Transport {
  close(): void;
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

  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const inherited = remainingMs();
      const effectiveTimeout = Math.min(timeoutMs ?? defaultTimeoutMs, inherited ?? Number.POSITIVE_INFINITY);
      // Counted from the call, not from when it leaves: time waiting in an interceptor (a bulkhead queue) is spent.
      const deadline = Date.now() + effectiveTimeout;
      const label = `${method.parent.typeName}/${method.name}`;
      const requestHeader = new Headers(header);
      const span = startSpan(label, SpanKind.CLIENT, {
        traceparent: requestHeader.get("traceparent") ?? currentContext()?.traceparent,
        tracestate: requestHeader.get("tracestate") ?? currentContext()?.tracestate,
      });
      for (const [key, value] of Object.entries({ ...propagationHeaders(), ...span.carrier })) {
        if (value && !(key === "x-request-id" && requestHeader.has(key))) requestHeader.set(key, value);
      }
      type Input = typeof method.input;
      type Output = typeof method.output;
      // Only callers that pass a signal can abort a call without interceptors; grpc-js enforces the deadline.
      const send = (req: Omit<UnaryRequest<Input, Output>, "signal"> & { signal?: AbortSignal }): Promise<UnaryResponse<Input, Output>> =>
        new Promise((resolve, reject) => {
          const { signal: abortSignal } = req;
          if (abortSignal?.aborted) return reject(ConnectError.from(getAbortSignalReason(abortSignal)));
          let responseMetadata: grpc.Metadata | undefined;
          let value: unknown;
          const call = channel.makeUnaryRequest(
            `/${label}`,
            (message: unknown) => Buffer.from(toBinary(method.input, message as never)),
            (bytes: Buffer) => fromBinary(method.output, bytes),
            req.message,
            metadataFromHeaders(req.header),
            { deadline },
            (_err, result) => {
              value = result;
            },
          );
          const onAbort = () => call.cancel();
          abortSignal?.addEventListener("abort", onAbort, { once: true });
          call.on("metadata", (metadata) => {
            responseMetadata = metadata;
          });
          call.on("status", (status: grpc.StatusObject) => {
            abortSignal?.removeEventListener("abort", onAbort);
            if (abortSignal?.aborted) return reject(ConnectError.from(getAbortSignalReason(abortSignal)));
            if (status.code !== grpc.status.OK) return reject(errorFromStatus(status));
            // Few callers read response headers or trailers: they are converted when read.
            let header: Headers | undefined;
            let trailer: Headers | undefined;
            resolve({
              stream: false,
              service: method.parent,
              method,
              get header() {
                return (header ??= headersFromMetadata(responseMetadata));
              },
              get trailer() {
                return (trailer ??= headersFromMetadata(status.metadata));
              },
              message: value,
            } as UnaryResponse<Input, Output>);
          });
        });
      const stopTimer = rpcMetrics.clientDuration.startTimer({ method: label });
      try {
        const request = {
          stream: false as const,
          service: method.parent,
          method,
          requestMethod: "POST",
          url: `grpc://${options.address}/${label}`,
          header: requestHeader,
          contextValues: contextValues ?? createContextValues(),
        };
        const message = isMessage(input, method.input) ? input : create(method.input, input);
        // Interceptors are applied here rather than by Connect's call runner, which links a new
        // abort controller and deadline timer to every call and aborts them after it, when
        // grpc-js enforces the deadline itself.
        const response = options.interceptors?.length
          ? ((await options.interceptors.reduceRight(
              (next, interceptor) => interceptor(next),
              send as unknown as InterceptedFn,
            )({
              ...request,
              signal: signal ?? neverAborted,
              message,
            })) as UnaryResponse<Input, Output>)
          : await send({ ...request, signal, message });
        rpcMetrics.clientRequests.inc({ method: label, code: "ok" });
        span.end();
        return response;
      } catch (err) {
        const error = ConnectError.from(err);
        rpcMetrics.clientRequests.inc({ method: label, code: Code[error.code] });
        span.end(error);
        throw error;
      } finally {
        stopTimer();
      }
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
