import { histogramQuantile, parsePrometheusText, type Sample } from "./prometheus.js";

export interface MetricsTarget {
  /** The component (`orders`, `gateway`, ...). */
  name: string;
  url: string;
}

/** One point of a request series: when, calls/s, errors/s, and latency percentiles in ms over the window before it. */
export type RequestPoint = [time: number, rate: number, errorRate: number, p50: number | null, p95: number | null, p99: number | null];

export interface ProcessStats {
  rssBytes?: number;
  cpuPercent?: number;
  uptimeSeconds?: number;
  nodeVersion?: string;
  outboxLagSeconds?: number;
  scrapedAt: number;
  error?: string;
}

export interface Plots {
  intervalMs: number;
  windowMs: number;
  routes: { key: string; points: RequestPoint[] }[];
  rpcs: { key: string; points: RequestPoint[] }[];
  /** Checkouts ended per second: confirmed, and cancelled by reason. */
  checkouts: { points: [time: number, confirmed: number, cancelled: number][]; cancelledByReason: Record<string, number> };
}

interface Scrape {
  at: number;
  samples: Sample[];
}

/** gRPC codes that say the server failed, not that the caller asked for something wrong. */
const serverFaults = new Set(["Unknown", "Internal", "Unavailable", "DeadlineExceeded", "DataLoss", "Unimplemented"]);

const sum = (samples: readonly Sample[], name: string, match: (labels: Record<string, string>) => boolean = () => true) =>
  samples.reduce((total, s) => (s.name === name && match(s.labels) ? total + s.value : total), 0);

/**
 * Scrapes every component's Prometheus metrics every `intervalMs` and keeps, for the last
 * `keepMs`, request rate, error rate and latency percentiles per gateway route and per RPC, and
 * checkout outcomes: each point over the `windowMs` before it. Raw samples are kept only for that
 * window, so memory stays small.
 */
export class MetricsScraper {
  private readonly recent = new Map<string, Scrape[]>();
  private readonly stats = new Map<string, ProcessStats>();
  private readonly routes = new Map<string, RequestPoint[]>();
  private readonly rpcs = new Map<string, RequestPoint[]>();
  private readonly checkouts: [number, number, number][] = [];
  private cancelledByReason: Record<string, number> = {};
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly targets: readonly MetricsTarget[],
    private readonly options = { intervalMs: 2_000, windowMs: 10_000, keepMs: 10 * 60_000 },
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    void this.scrape();
    this.timer = setInterval(() => void this.scrape(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  processStats(name: string): ProcessStats | undefined {
    return this.stats.get(name);
  }

  plots(): Plots {
    const list = (series: Map<string, RequestPoint[]>) =>
      [...series].map(([key, points]) => ({ key, points })).sort((a, b) => a.key.localeCompare(b.key));
    return {
      intervalMs: this.options.intervalMs,
      windowMs: this.options.windowMs,
      routes: list(this.routes),
      rpcs: list(this.rpcs),
      checkouts: { points: this.checkouts, cancelledByReason: this.cancelledByReason },
    };
  }

  /** Reads every target once and adds a point to each series. */
  async scrape(): Promise<void> {
    const at = this.now();
    const scraped = await Promise.all(
      this.targets.map(async (target) => {
        try {
          const response = await fetch(target.url, { signal: AbortSignal.timeout(this.options.intervalMs) });
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          return { target, samples: parsePrometheusText(await response.text()) };
        } catch (err) {
          this.stats.set(target.name, { scrapedAt: at, error: (err as Error).message });
          return { target, samples: undefined };
        }
      }),
    );
    const routeTotals = new Map<string, RequestPoint>();
    const rpcTotals = new Map<string, RequestPoint>();
    let confirmed = 0;
    let cancelled = 0;
    for (const { target, samples } of scraped) {
      if (!samples) continue;
      const history = this.recent.get(target.name) ?? [];
      history.push({ at, samples });
      while (history.length > 1 && at - history[0]!.at > this.options.windowMs) history.shift();
      this.recent.set(target.name, history);
      const before = history[0]!;
      const seconds = (at - before.at) / 1000;
      this.stats.set(target.name, processStats(samples, before, seconds, at));
      if (seconds <= 0) continue;
      requestSeries(routeTotals, at, samples, before.samples, seconds, {
        count: "gateway_http_requests_total",
        buckets: "gateway_http_request_duration_seconds_bucket",
        // REST routes are labelled with their method already (`GET /v1/products/{productId}`); operational paths are not.
        key: (labels) => (labels.route?.startsWith(`${labels.method} `) ? labels.route : `${labels.method} ${labels.route}`),
        isError: (labels) => Number(labels.status) >= 500,
      });
      requestSeries(rpcTotals, at, samples, before.samples, seconds, {
        count: "rpc_server_requests_total",
        buckets: "rpc_server_duration_seconds_bucket",
        key: (labels) => labels.method ?? "",
        isError: (labels) => serverFaults.has(labels.code ?? ""),
      });
      confirmed += increase(samples, before.samples, "saga_outcomes_total", (l) => l.result === "confirmed") / seconds;
      cancelled += increase(samples, before.samples, "saga_outcomes_total", (l) => l.result === "cancelled") / seconds;
      for (const sample of samples) {
        if (sample.name === "saga_outcomes_total" && sample.labels.result === "cancelled") {
          this.cancelledByReason[sample.labels.reason ?? ""] = sample.value;
        }
      }
    }
    const keepFrom = at - this.options.keepMs;
    const append = (series: Map<string, RequestPoint[]>, totals: Map<string, RequestPoint>) => {
      for (const [key, point] of totals) {
        const points = series.get(key) ?? [];
        points.push(point);
        series.set(key, points);
      }
      for (const points of series.values()) while (points.length > 0 && points[0]![0] < keepFrom) points.shift();
    };
    append(this.routes, routeTotals);
    append(this.rpcs, rpcTotals);
    this.checkouts.push([at, confirmed, cancelled]);
    while (this.checkouts.length > 0 && this.checkouts[0]![0] < keepFrom) this.checkouts.shift();
  }
}

function increase(now: readonly Sample[], before: readonly Sample[], name: string, match?: (labels: Record<string, string>) => boolean) {
  // A counter that went down belongs to a restarted process: its count since then is the increase.
  const current = sum(now, name, match);
  const previous = sum(before, name, match);
  return current >= previous ? current - previous : current;
}

function processStats(samples: readonly Sample[], before: Scrape, seconds: number, at: number): ProcessStats {
  const value = (name: string) => samples.find((s) => s.name === name)?.value;
  const cpu = value("process_cpu_seconds_total");
  const cpuBefore = before.samples.find((s) => s.name === "process_cpu_seconds_total")?.value;
  const startedAt = value("process_start_time_seconds");
  return {
    rssBytes: value("process_resident_memory_bytes"),
    cpuPercent: cpu !== undefined && cpuBefore !== undefined && seconds > 0 ? ((cpu - cpuBefore) / seconds) * 100 : undefined,
    uptimeSeconds: startedAt === undefined ? undefined : Math.max(0, at / 1000 - startedAt),
    nodeVersion: samples.find((s) => s.name === "nodejs_version_info")?.labels.version,
    outboxLagSeconds: value("outbox_lag_seconds"),
    scrapedAt: at,
  };
}

interface SeriesSpec {
  count: string;
  buckets: string;
  key: (labels: Record<string, string>) => string;
  isError: (labels: Record<string, string>) => boolean;
}

/** Adds this target's rate, error rate and percentiles per key into `totals` (a key served by several targets is merged). */
function requestSeries(
  totals: Map<string, RequestPoint>,
  time: number,
  now: readonly Sample[],
  before: readonly Sample[],
  seconds: number,
  spec: SeriesSpec,
): void {
  const keyed = (samples: readonly Sample[], name: string) => {
    const byKey = new Map<string, Sample[]>();
    for (const sample of samples) {
      if (sample.name !== name) continue;
      const key = spec.key(sample.labels);
      let list = byKey.get(key);
      if (!list) byKey.set(key, (list = []));
      list.push(sample);
    }
    return byKey;
  };
  const counts = keyed(now, spec.count);
  const countsBefore = keyed(before, spec.count);
  const buckets = keyed(now, spec.buckets);
  const bucketsBefore = keyed(before, spec.buckets);
  for (const [key, samples] of counts) {
    const previous = countsBefore.get(key) ?? [];
    const calls = increase(samples, previous, spec.count);
    const errors = increase(samples, previous, spec.count, spec.isError);
    const byBound = new Map<number, number>();
    const earlier = bucketsBefore.get(key) ?? [];
    for (const sample of buckets.get(key) ?? []) {
      const le = Number(sample.labels.le);
      const was = earlier.filter((s) => s.labels.le === sample.labels.le).reduce((total, s) => total + s.value, 0);
      byBound.set(le, (byBound.get(le) ?? 0) + (sample.value >= was ? sample.value - was : sample.value));
    }
    const bounds = [...byBound].map(([le, count]) => ({ le, count }));
    const ms = (q: number) => {
      const seconds = histogramQuantile(q, bounds);
      return seconds === undefined ? null : Math.round(seconds * 100_000) / 100;
    };
    const existing = totals.get(key);
    if (existing) {
      existing[1] += calls / seconds;
      existing[2] += errors / seconds;
    } else {
      totals.set(key, [time, calls / seconds, errors / seconds, ms(0.5), ms(0.95), ms(0.99)]);
    }
  }
}
