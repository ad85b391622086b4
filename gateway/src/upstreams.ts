import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type ClosableTransport, codeName, createGrpcJsTransport } from "@shop/runtime";
import { gatewayMetrics } from "./ops/metrics.js";

export interface UpstreamCall {
  signal: AbortSignal;
  /** The client's timeout. */
  timeoutMs: number;
  /** When that timeout started (epoch ms; the request's arrival), so gateway work counts against it. */
  startedAt?: number;
  headers: Record<string, string>;
}

/**
 * One long-lived gRPC channel (an HTTP/2 connection) per upstream service, shared by every
 * request, and the one place upstream failures are turned into what a client may read.
 */
export class Upstreams {
  private readonly transports = new Map<string, ClosableTransport>();

  constructor(readonly addresses: Readonly<Record<string, string>>) {}

  transport(upstream: string): ClosableTransport {
    let transport = this.transports.get(upstream);
    if (!transport) {
      const address = this.addresses[upstream];
      if (!address) throw new Error(`no address configured for upstream ${upstream}`);
      transport = createGrpcJsTransport({ address });
      this.transports.set(upstream, transport);
    }
    return transport;
  }

  async call<I extends DescMessage, O extends DescMessage>(
    upstream: string,
    method: DescMethodUnary<I, O>,
    input: MessageShape<I>,
    call: UpstreamCall,
  ): Promise<MessageShape<O>> {
    try {
      const remainingMs = Math.max(1, (call.startedAt ?? Date.now()) + call.timeoutMs - Date.now());
      const response = await this.transport(upstream).unary(method, call.signal, remainingMs, call.headers, input);
      return response.message;
    } catch (err) {
      const error = ConnectError.from(err);
      gatewayMetrics.upstreamErrors.inc({ upstream, code: codeName(error.code) });
      // Transport failures carry addresses and socket errors; the client learns which service, not where.
      if (error.code === Code.Unavailable)
        throw new ConnectError(`${upstream} service is unavailable`, Code.Unavailable, undefined, undefined, error);
      if (error.code === Code.DeadlineExceeded) {
        throw new ConnectError(
          `${upstream} service did not answer within ${call.timeoutMs} ms`,
          Code.DeadlineExceeded,
          undefined,
          undefined,
          error,
        );
      }
      throw error;
    }
  }

  close(): void {
    for (const transport of this.transports.values()) transport.close();
    this.transports.clear();
  }
}
