import * as grpc from "@grpc/grpc-js";
import { shopFiles } from "@shop/contracts";
import { Health, HealthCheckResponse_ServingStatus } from "@shop/contracts/grpc/health/v1/health_pb.js";
import { createServiceClient, eventSubject, fetchServedDescriptors, listServedServices } from "@shop/runtime";
import { describeMethods, type RpcInfo } from "./descriptors.js";
import type { MetricsScraper, ProcessStats } from "./metrics.js";
import type { TraceStore } from "./trace-store.js";

export interface Component {
  name: string;
  kind: "service" | "gateway";
  /** `host:port` of a service's gRPC server, the gateway's base URL. */
  address: string;
  metricsUrl?: string;
}

export interface ComponentView extends Component {
  health: string;
  /** Replicas that sent spans, by `service.instance.id`, with their `service.version` and when last heard of. */
  instances: { id: string; version: string; lastSeen: number }[];
  process?: ProcessStats;
  rpcs: RpcInfo[];
  reflectionError?: string;
  events: { published: string[]; consumed: { consumer: string; subject: string }[] };
}

/** Subjects of every event a context's contracts define (`shop/<context>/v1/events.proto`). */
function contractSubjects(context: string): string[] {
  const file = shopFiles.find((candidate) => candidate.name === `shop/${context}/v1/events.proto`);
  return file ? file.messages.map((message) => eventSubject(message)) : [];
}

async function grpcHealth(address: string): Promise<string> {
  const client = createServiceClient(Health, { address, defaultTimeoutMs: 1_000 });
  try {
    const { status } = await client.check({ service: "" });
    return HealthCheckResponse_ServingStatus[status] ?? String(status);
  } catch (err) {
    return `UNREACHABLE (${(err as Error).message})`;
  } finally {
    client.close();
  }
}

async function gatewayHealth(url: string): Promise<string> {
  try {
    const ready = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await ready.json()) as { status?: string; problems?: string[] };
    return ready.ok ? "SERVING (ready)" : `NOT_READY: ${(body.problems ?? []).join("; ")}`;
  } catch (err) {
    return `UNREACHABLE (${(err as Error).message})`;
  }
}

/**
 * The Services page: each component's health (gRPC health check, the gateway's /readyz), its RPCs
 * from server reflection (fetched once it serves, and again when it comes back), its process
 * figures from its metrics, its replicas and its events from the spans received.
 */
export class ServicesView {
  private readonly reflected = new Map<string, { rpcs: RpcInfo[]; error?: string }>();

  constructor(
    private readonly components: readonly Component[],
    private readonly traces: TraceStore,
    private readonly metrics: MetricsScraper,
  ) {}

  async list(): Promise<ComponentView[]> {
    const seen = this.fromSpans();
    return Promise.all(
      this.components.map(async (component) => {
        const health = component.kind === "gateway" ? await gatewayHealth(component.address) : await grpcHealth(component.address);
        if (component.kind === "service") {
          if (!health.startsWith("SERVING")) this.reflected.delete(component.name);
          else if (!this.reflected.get(component.name)?.rpcs.length)
            this.reflected.set(component.name, await this.reflect(component.address));
        }
        const live = seen.get(component.name);
        const published = new Set([...contractSubjects(component.name), ...(live?.published ?? [])]);
        return {
          ...component,
          health,
          instances: [...(live?.instances.values() ?? [])].sort((a, b) => a.id.localeCompare(b.id)),
          process: this.metrics.processStats(component.name),
          rpcs: this.reflected.get(component.name)?.rpcs ?? [],
          reflectionError: this.reflected.get(component.name)?.error,
          events: {
            published: component.kind === "service" ? [...published].sort() : [],
            consumed: [...(live?.consumed.values() ?? [])],
          },
        };
      }),
    );
  }

  private async reflect(address: string): Promise<{ rpcs: RpcInfo[]; error?: string }> {
    const channel = new grpc.Client(address, grpc.credentials.createInsecure());
    try {
      const services = (await listServedServices(channel, 3_000)).filter((name) => !name.startsWith("grpc."));
      const registry = await fetchServedDescriptors(channel, services, 3_000);
      return { rpcs: describeMethods(registry, services) };
    } catch (err) {
      return { rpcs: [], error: (err as Error).message };
    } finally {
      channel.close();
    }
  }

  /** Replicas, subjects published and consumers, per service, as the spans received show them. */
  private fromSpans() {
    const byService = new Map<
      string,
      {
        instances: Map<string, { id: string; version: string; lastSeen: number }>;
        published: Set<string>;
        consumed: Map<string, { consumer: string; subject: string }>;
      }
    >();
    for (const span of this.traces.allSpans()) {
      let entry = byService.get(span.service);
      if (!entry) byService.set(span.service, (entry = { instances: new Map(), published: new Set(), consumed: new Map() }));
      const id = String(span.resource["service.instance.id"] ?? "");
      const known = entry.instances.get(id);
      if (!known || known.lastSeen < span.end) {
        entry.instances.set(id, { id, version: String(span.resource["service.version"] ?? ""), lastSeen: span.end });
      }
      const destination = String(span.attributes["messaging.destination.name"] ?? "");
      const operation = span.attributes["messaging.operation.type"];
      if (operation === "send") entry.published.add(destination);
      if (operation === "process") {
        const consumer = String(span.attributes["messaging.consumer.group.name"] ?? "");
        entry.consumed.set(`${consumer} ${destination}`, { consumer, subject: destination });
      }
    }
    return byService;
  }
}
