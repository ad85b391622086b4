import type { DescMethod } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "@shop/runtime";
import { fetchServedDescriptors } from "@shop/runtime";
import { gatewayMetrics } from "../ops/metrics.js";
import { compareServedMethods } from "./compare-descriptors.js";

export interface UpstreamContract {
  address: string;
  /** The methods the gateway calls on this upstream. */
  methods: readonly DescMethod[];
}

export interface UpstreamStatus {
  upstream: string;
  address: string;
  reachable: boolean;
  compatible: boolean;
  problems: string[];
  checkedAt?: string;
}

export interface ContractReport {
  ready: boolean;
  upstreams: UpstreamStatus[];
}

export interface ContractMonitorOptions {
  upstreams: Readonly<Record<string, UpstreamContract>>;
  intervalMs: number;
  /** Deadline of one reflection exchange. */
  timeoutMs: number;
  logger: Logger;
}

/** Before a failing upstream is asked again on demand (a /readyz poll), at least this long passes. */
const recheckAfterMs = 1000;

/**
 * The runtime contract check: at start and every interval, asks each upstream through gRPC
 * server reflection what it serves and compares it with the descriptors the gateway was
 * built against. Readiness follows the latest result.
 */
export class ContractMonitor {
  private readonly channels = new Map<string, grpc.Client>();
  private statuses: UpstreamStatus[];
  private running?: Promise<ContractReport>;
  private timer?: NodeJS.Timeout;
  private lastCheck = 0;

  constructor(private readonly options: ContractMonitorOptions) {
    this.statuses = Object.entries(options.upstreams).map(([upstream, { address }]) => ({
      upstream,
      address,
      reachable: false,
      compatible: false,
      problems: [`${upstream}: not checked yet`],
    }));
  }

  get report(): ContractReport {
    return { ready: this.statuses.every((s) => s.reachable && s.compatible), upstreams: this.statuses };
  }

  /** Checks now and then every interval; failures are logged and shown by readiness, never thrown. */
  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.options.intervalMs).unref();
  }

  /** The current report, re-checked first when it is failing and not fresh (readiness probes poll this). */
  async current(): Promise<ContractReport> {
    if (!this.report.ready && Date.now() - this.lastCheck >= recheckAfterMs) return this.check();
    return this.running ?? this.report;
  }

  /** Runs one check of every upstream (joining a check already under way). */
  check(): Promise<ContractReport> {
    this.running ??= this.checkAll().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkAll(): Promise<ContractReport> {
    this.lastCheck = Date.now();
    const previous = new Map(this.statuses.map((s) => [s.upstream, s]));
    this.statuses = await Promise.all(
      Object.entries(this.options.upstreams).map(([upstream, contract]) => this.checkOne(upstream, contract)),
    );
    for (const status of this.statuses) {
      gatewayMetrics.contractCompatible.set({ upstream: status.upstream }, status.reachable && status.compatible ? 1 : 0);
      const before = previous.get(status.upstream);
      const changed = before?.compatible !== status.compatible || before?.reachable !== status.reachable;
      if (changed && status.reachable && status.compatible)
        this.options.logger.info({ upstream: status.upstream }, "upstream contract compatible");
      else if (changed || status.problems.join() !== before?.problems.join()) {
        this.options.logger.warn({ upstream: status.upstream, problems: status.problems }, "upstream not ready");
      }
    }
    return this.report;
  }

  private channel(upstream: string, address: string): grpc.Client {
    let channel = this.channels.get(upstream);
    if (!channel) {
      channel = new grpc.Client(address, grpc.credentials.createInsecure());
      this.channels.set(upstream, channel);
    }
    return channel;
  }

  private async checkOne(upstream: string, contract: UpstreamContract): Promise<UpstreamStatus> {
    const base = { upstream, address: contract.address, checkedAt: new Date().toISOString() };
    const services = [...new Set(contract.methods.map((m) => m.parent.typeName))];
    try {
      const served = await fetchServedDescriptors(this.channel(upstream, contract.address), services, this.options.timeoutMs);
      const problems = compareServedMethods(contract.methods, served).map((p) => `${upstream}: ${p}`);
      return { ...base, reachable: true, compatible: problems.length === 0, problems };
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return { ...base, reachable: false, compatible: false, problems: [`${upstream}: unreachable at ${contract.address} (${reason})`] };
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }
}
