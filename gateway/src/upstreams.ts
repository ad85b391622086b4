import type { DescMessage, DescMethodUnary, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { callUnary, codeName, methodStub } from "@shop/runtime";
import { gatewayMetrics } from "./ops/metrics.js";

export interface UpstreamCall {
  /** Cancels the call when it aborts. */
  signal?: AbortSignal;
  /** Handed the call once started (the exchange keeps it, to cancel it if the client goes away). */
  onStart?: (call: grpc.ClientUnaryCall) => void;
  /** The client's timeout. */
  timeoutMs: number;
  /** When that timeout started (epoch ms; the request's arrival), so gateway work counts against it. */
  startedAt?: number;
  headers: Readonly<Record<string, string>>;
}

/**
 * One long-lived gRPC channel (an HTTP/2 connection) per upstream service, shared by every
 * request, and the one place upstream failures are turned into what a client may read.
 */
export class Upstreams {
  private readonly channels = new Map<string, grpc.Client>();

  constructor(readonly addresses: Readonly<Record<string, string>>) {}

  private channel(upstream: string): grpc.Client {
    let channel = this.channels.get(upstream);
    if (!channel) {
      const address = this.addresses[upstream];
      if (!address) throw new Error(`no address configured for upstream ${upstream}`);
      channel = new grpc.Client(address, grpc.credentials.createInsecure(), {
        "grpc.keepalive_time_ms": 30_000,
        "grpc.keepalive_permit_without_calls": 1,
      });
      this.channels.set(upstream, channel);
    }
    return channel;
  }

  async call<I extends DescMessage, O extends DescMessage>(
    upstream: string,
    method: DescMethodUnary<I, O>,
    input: MessageShape<I>,
    call: UpstreamCall,
  ): Promise<MessageShape<O>> {
    const metadata = new grpc.Metadata();
    for (const key in call.headers) metadata.set(key, call.headers[key]!);
    try {
      const deadline = (call.startedAt ?? Date.now()) + call.timeoutMs;
      const result = await callUnary(this.channel(upstream), methodStub(method), input, {
        deadline: Math.max(deadline, Date.now() + 1),
        metadata,
        signal: call.signal,
        onStart: call.onStart,
      });
      return result.message as MessageShape<O>;
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
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
