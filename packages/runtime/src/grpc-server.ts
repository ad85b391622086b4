import { setMaxListeners } from "node:events";
import { create, type DescFile, type DescMethod, type DescService, isMessage, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ContextValues, createContextValues, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { file_grpc_health_v1_health, Health } from "@shop/contracts/grpc/health/v1/health_pb.js";
import { HealthImplementation } from "grpc-health-check";
import { authorizedCaller, methodPolicy, principalKey } from "./auth/policy.js";
import { anonymous, type TokenVerifier } from "./auth/tokens.js";
import { publicError } from "./errors.js";
import { grpcServiceDefinition, headersFromMetadata, metadataFromHeaders, statusFromError } from "./grpc-wire.js";
import type { Logger } from "./logger.js";
import { rpcServerMetrics } from "./metrics.js";
import { addReflection } from "./reflection-server.js";
import { contextFromHeaders, ensureStillWanted, runWithContext } from "./request-context.js";
import { SpanKind, startSpan } from "./tracing.js";
import { validateMessage } from "./validation.js";

type AnyImpl = Record<string, (request: unknown, context: HandlerContext) => unknown>;

/** A service and the handlers that implement it, written once as a Connect ServiceImpl. */
export interface ServiceRegistration {
  service: DescService;
  impl: AnyImpl;
}

export function registration<S extends DescService>(service: S, impl: ServiceImpl<S>): ServiceRegistration {
  return { service, impl: impl as unknown as AnyImpl };
}

export interface GrpcServerOptions {
  registrations: ServiceRegistration[];
  logger: Logger;
  /** Checks the credential of every call; each method's declared policy then decides. */
  tokens: TokenVerifier;
  host?: string;
  port: number;
}

export interface RunningGrpcServer {
  readonly port: number;
  readonly address: string;
  readonly server: grpc.Server;
  readonly health: HealthImplementation;
  /** Marks the services NOT_SERVING, lets in-flight calls finish for up to `graceMs`, then stops. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Serialized descriptors of the given files and everything they import, as a reflection client receives them. */
export function fileDescriptorSet(files: DescFile[]): Buffer[] {
  const seen = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.set(file.name, file);
    file.dependencies.forEach(visit);
  };
  files.forEach(visit);
  return [...seen.values()].map((file) => Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The first text value of a metadata key, as `Headers.get` would give it for a single value. */
function metadataValue(metadata: grpc.Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The HandlerContext of one call, made on demand: handlers mostly read a caller header or
 * two, so header copies and the abort signal (with its deadline timer and listeners) cost
 * nothing for the many calls that never ask for them.
 */
class UnaryCallContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  readonly url: string;
  private requestHeaders?: Headers;
  private responseHeaders?: Headers;
  private responseTrailers?: Headers;
  private contextValues?: ContextValues;
  private abortController?: AbortController;
  private releaseSignal?: () => void;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    private readonly call: grpc.ServerUnaryCall<unknown, unknown>,
    private readonly deadline: number | undefined,
    private readonly shutdown: AbortSignal,
  ) {
    this.url = `/${service.typeName}/${method.name}`;
  }

  readonly timeoutMs = (): number | undefined => (this.deadline === undefined ? undefined : this.deadline - Date.now());

  get requestHeader(): Headers {
    return (this.requestHeaders ??= headersFromMetadata(this.call.metadata));
  }

  get responseHeader(): Headers {
    return (this.responseHeaders ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.responseTrailers ??= new Headers());
  }

  get values(): ContextValues {
    return (this.contextValues ??= createContextValues());
  }

  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  get signal(): AbortSignal {
    if (!this.abortController) {
      const controller = new AbortController();
      const abort = (reason: ConnectError) => {
        if (!controller.signal.aborted) controller.abort(reason);
      };
      const onCancelled = () => abort(new ConnectError("call cancelled by the client", Code.Canceled));
      const onShutdown = () => abort(new ConnectError("server shutting down", Code.Unavailable));
      const timer =
        this.deadline === undefined
          ? undefined
          : setTimeout(
              () => abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)),
              Math.max(0, this.deadline - Date.now()),
            );
      this.call.once("cancelled", onCancelled);
      this.shutdown.addEventListener("abort", onShutdown, { once: true });
      if (this.shutdown.aborted) onShutdown();
      this.releaseSignal = () => {
        clearTimeout(timer);
        this.call.off("cancelled", onCancelled);
        this.shutdown.removeEventListener("abort", onShutdown);
      };
      this.abortController = controller;
    }
    return this.abortController.signal;
  }

  /** Response headers to send first, if the handler set any. */
  headerMetadata(): grpc.Metadata | undefined {
    return this.responseHeaders && [...this.responseHeaders.keys()].length > 0 ? metadataFromHeaders(this.responseHeaders) : undefined;
  }

  trailerMetadata(): grpc.Metadata | undefined {
    return this.responseTrailers && metadataFromHeaders(this.responseTrailers);
  }

  /** The call is answered: its timer and listeners go. */
  end(): void {
    this.releaseSignal?.();
  }
}

function unaryHandler(
  service: DescService,
  method: DescMethod,
  impl: AnyImpl,
  logger: Logger,
  tokens: TokenVerifier,
  shutdownSignal: AbortSignal,
): grpc.handleUnaryCall<unknown, unknown> {
  const policy = methodPolicy(method);
  const fn = impl[method.localName]!.bind(impl);
  const label = `${service.typeName}/${method.name}`;
  const spanAttributes = { "rpc.system": "grpc", "rpc.service": service.typeName, "rpc.method": method.name };
  const metrics = rpcServerMetrics(label);
  return (call, callback) => {
    const startedAt = performance.now();
    const deadline = deadlineOf(call);
    const ctx = new UnaryCallContext(service, method, call, deadline, shutdownSignal);
    const incoming = contextFromHeaders((key) => metadataValue(call.metadata, key), deadline);
    const span = startSpan(label, SpanKind.SERVER, incoming, spanAttributes);
    incoming.traceparent = span.carrier.traceparent;
    incoming.cancelled = () => call.cancelled;
    runWithContext(incoming, async () => {
      const caller = await authorizedCaller(method, policy, tokens, metadataValue(call.metadata, "authorization"));
      if (caller !== anonymous) ctx.values.set(principalKey, caller);
      validateMessage(method.input, call.request as never);
      ensureStillWanted(label);
      const result = await fn(call.request, ctx);
      return isMessage(result, method.output) ? result : create(method.output, result as never);
    }).then(
      (response) => {
        const header = ctx.headerMetadata();
        if (header) call.sendMetadata(header);
        callback(null, response, ctx.trailerMetadata());
        metrics.observe(grpc.status.OK, (performance.now() - startedAt) / 1000);
        span.end();
        ctx.end();
      },
      (thrown: unknown) => {
        const err = publicError(thrown);
        if (err.code === Code.Internal || err.code === Code.Unknown || !(thrown instanceof ConnectError)) {
          logger.error({ err: thrown, method: label, correlationId: incoming.correlationId }, "rpc failed");
        } else {
          logger.debug({ method: label, code: Code[err.code], msg: err.rawMessage, correlationId: incoming.correlationId }, "rpc error");
        }
        callback(statusFromError(err), null);
        metrics.observe(err.code, (performance.now() - startedAt) / 1000);
        span.end(err);
        ctx.end();
      },
    );
  };
}

/**
 * Serves Connect ServiceImpls over @grpc/grpc-js (the faster server stack here), with
 * request validation from the contract, gRPC health checking and server reflection.
 */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const server = new grpc.Server({ "grpc.keepalive_permit_without_calls": 1 });
  const shutdown = new AbortController();
  // Every call in flight listens to the shutdown signal; there is no sensible cap.
  setMaxListeners(0, shutdown.signal);
  const status: Record<string, "SERVING"> = { "": "SERVING" };
  for (const { service, impl } of options.registrations) {
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      if (method.methodKind !== "unary") throw new Error(`${service.typeName}/${method.name}: only unary methods are served`);
      methodPolicy(method);
      if (typeof impl[method.localName] !== "function") {
        handlers[method.localName] = (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
          callback({ code: grpc.status.UNIMPLEMENTED, details: `${service.typeName}/${method.name} is not implemented` });
        continue;
      }
      handlers[method.localName] = unaryHandler(service, method, impl, options.logger, options.tokens, shutdown.signal);
    }
    server.addService(grpcServiceDefinition(service), handlers);
    status[service.typeName] = "SERVING";
  }
  const health = new HealthImplementation(status);
  health.addToServer(server);
  // The health service's descriptor too, so reflection clients (buf curl, grpcurl) can call it.
  const files = [...options.registrations.map((r) => r.service.file), file_grpc_health_v1_health];
  addReflection(server, files, [...options.registrations.map((r) => r.service.typeName), Health.typeName]);

  const host = options.host ?? "0.0.0.0";
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return {
    port,
    address: `127.0.0.1:${port}`,
    server,
    health,
    async shutdown(graceMs = 10_000) {
      for (const name of Object.keys(status)) health.setStatus(name, "NOT_SERVING");
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          shutdown.abort();
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}
