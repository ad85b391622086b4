import type { AttributeValue, ReceivedSpan } from "./otlp.js";

/** A trace as the Traces page lists it. */
export interface TraceSummary {
  traceId: string;
  /** The root span's name (the earliest span when the root has not arrived). */
  name: string;
  rootService: string;
  services: string[];
  spanCount: number;
  errorCount: number;
  start: number;
  durationMs: number;
}

export interface TraceDetail extends TraceSummary {
  spans: ReceivedSpan[];
  /** Spans of other traces that link to a span of this one (a batch that processed its message with others). */
  linked: ReceivedSpan[];
}

/** One step of a saga, read from its span (`saga PRICE`, ...). */
export interface SagaStep {
  step: string;
  phase: string;
  attempt: number;
  outcome: string;
  detail: string;
  /** What the saga was after the step recorded its outcome (`CONFIRMED`, `COMPENSATING`, ...). */
  status: string;
  reason: string;
  retryDelayMs?: number;
  start: number;
  durationMs: number;
  /** The step's downstream calls, retries included, and whether each failed. */
  calls: { name: string; error: boolean; durationMs: number }[];
  spanId: string;
}

export interface SagaTimeline {
  orderId: string;
  traceId: string;
  /** `PENDING` until a step records CONFIRMED or CANCELLED. */
  status: string;
  reason: string;
  start: number;
  durationMs: number;
  steps: SagaStep[];
}

export interface StoreLimits {
  traces: number;
  spansPerTrace: number;
}

interface StoredTrace {
  traceId: string;
  spans: ReceivedSpan[];
  linked: ReceivedSpan[];
}

/** Attributes whose values find their trace in a search. */
const searchedAttributes = ["shop.order.id", "http.request.header.x-request-id", "messaging.message.id"];

const text = (value: AttributeValue | undefined) => (Array.isArray(value) ? value.map(String) : value == null ? [] : [String(value)]);
const isFinal = (status: string) => status === "CONFIRMED" || status === "CANCELLED";

/**
 * The recent traces the console received, in memory: the newest `limits.traces`, each up to
 * `limits.spansPerTrace` spans. Indexed by trace id and by the order id, request id and message
 * id spans carry; sagas are read from their steps' spans.
 */
export class TraceStore {
  private readonly traces = new Map<string, StoredTrace>();
  private readonly index = new Map<string, Set<string>>();
  /** Changes with every span received, so pages can tell whether to read again. */
  version = 0;

  constructor(private readonly limits: StoreLimits = { traces: 2_000, spansPerTrace: 2_000 }) {}

  add(spans: readonly ReceivedSpan[]): void {
    for (const span of spans) {
      if (!/^[0-9a-f]{32}$/.test(span.traceId)) continue;
      const stored = this.traceOf(span.traceId);
      if (stored.spans.length >= this.limits.spansPerTrace) continue;
      stored.spans.push(span);
      this.indexSpan(span);
      for (const link of span.links) if (link.traceId !== span.traceId) this.traceOf(link.traceId, false).linked.push(span);
    }
    this.version += 1;
    this.evict();
  }

  /** The stored trace, made if new; a span received moves it to the newest (`touch`), a link to it does not. */
  private traceOf(traceId: string, touch = true): StoredTrace {
    let stored = this.traces.get(traceId);
    if (stored && !touch) return stored;
    if (stored) {
      // Kept in the order traces were last added to, oldest first.
      this.traces.delete(traceId);
    } else {
      stored = { traceId, spans: [], linked: [] };
    }
    this.traces.set(traceId, stored);
    return stored;
  }

  private indexSpan(span: ReceivedSpan): void {
    for (const name of searchedAttributes) {
      for (const value of text(span.attributes[name])) {
        let ids = this.index.get(value);
        if (!ids) this.index.set(value, (ids = new Set()));
        ids.add(span.traceId);
      }
    }
  }

  private evict(): void {
    for (const traceId of this.traces.keys()) {
      if (this.traces.size <= this.limits.traces) return;
      const stored = this.traces.get(traceId)!;
      this.traces.delete(traceId);
      for (const span of stored.spans) {
        for (const name of searchedAttributes) for (const value of text(span.attributes[name])) this.index.get(value)?.delete(traceId);
      }
    }
  }

  /** The newest traces first; `query` is a trace id, or a value an indexed attribute had (order id, request id, event id). */
  search(query = "", limit = 100): TraceSummary[] {
    const q = query.trim().toLowerCase();
    let ids: string[];
    if (q === "") ids = [...this.traces.keys()];
    else ids = [...new Set([...(this.traces.has(q) ? [q] : []), ...(this.index.get(query.trim()) ?? this.index.get(q) ?? [])])];
    return ids
      .map((id) => this.traces.get(id))
      .filter((stored): stored is StoredTrace => stored !== undefined && stored.spans.length > 0)
      .map((stored) => summarize(stored))
      .sort((a, b) => b.start - a.start)
      .slice(0, limit);
  }

  trace(traceId: string): TraceDetail | undefined {
    const stored = this.traces.get(traceId);
    if (!stored || stored.spans.length === 0) return undefined;
    return { ...summarize(stored), spans: [...stored.spans].sort((a, b) => a.start - b.start), linked: stored.linked };
  }

  /** Every span received, newest trace last (for the services' instances and messaging). */
  *allSpans(): Iterable<ReceivedSpan> {
    for (const stored of this.traces.values()) yield* stored.spans;
  }

  /** The sagas whose steps were traced, newest first. */
  sagas(limit = 50): SagaTimeline[] {
    const byOrder = new Map<string, { traceId: string; steps: ReceivedSpan[]; all: Map<string, ReceivedSpan[]> }>();
    for (const stored of this.traces.values()) {
      let children: Map<string, ReceivedSpan[]> | undefined;
      for (const span of stored.spans) {
        const orderId = span.attributes["shop.order.id"];
        if (typeof orderId !== "string" || typeof span.attributes["saga.step"] !== "string") continue;
        children ??= childrenOf(stored.spans);
        let saga = byOrder.get(orderId);
        if (!saga) byOrder.set(orderId, (saga = { traceId: stored.traceId, steps: [], all: children }));
        saga.steps.push(span);
      }
    }
    return [...byOrder]
      .map(([orderId, saga]) => timeline(orderId, saga.traceId, saga.steps, saga.all))
      .sort((a, b) => b.start - a.start)
      .slice(0, limit);
  }
}

function childrenOf(spans: readonly ReceivedSpan[]): Map<string, ReceivedSpan[]> {
  const children = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    let list = children.get(span.parentSpanId);
    if (!list) children.set(span.parentSpanId, (list = []));
    list.push(span);
  }
  return children;
}

function summarize(stored: StoredTrace): TraceSummary {
  const ids = new Set(stored.spans.map((span) => span.spanId));
  const roots = stored.spans.filter((span) => span.parentSpanId === "" || !ids.has(span.parentSpanId));
  const first = (roots.length > 0 ? roots : stored.spans).reduce((a, b) => (b.start < a.start ? b : a));
  const start = Math.min(...stored.spans.map((span) => span.start));
  const end = Math.max(...stored.spans.map((span) => span.end));
  return {
    traceId: stored.traceId,
    name: first.name,
    rootService: first.service,
    services: [...new Set(stored.spans.map((span) => span.service))],
    spanCount: stored.spans.length,
    errorCount: stored.spans.filter((span) => span.status.code === "ERROR").length,
    start,
    durationMs: end - start,
  };
}

const attribute = (span: ReceivedSpan, name: string) => {
  const value = span.attributes[name];
  return value == null ? "" : String(value);
};

function timeline(orderId: string, traceId: string, spans: ReceivedSpan[], children: Map<string, ReceivedSpan[]>): SagaTimeline {
  const steps = [...spans]
    .sort((a, b) => a.start - b.start)
    .map((span): SagaStep => {
      const delay = span.attributes["saga.retry.delay_ms"];
      return {
        step: attribute(span, "saga.step"),
        phase: attribute(span, "saga.phase"),
        attempt: Number(span.attributes["saga.attempt"] ?? 1),
        outcome: attribute(span, "saga.outcome") || (span.status.code === "ERROR" ? "error" : "unknown"),
        detail: attribute(span, "saga.outcome.detail"),
        status: attribute(span, "saga.status"),
        reason: attribute(span, "saga.reason") || attribute(span, "saga.outcome.reason"),
        retryDelayMs: typeof delay === "number" ? delay : undefined,
        start: span.start,
        durationMs: span.end - span.start,
        calls: (children.get(span.spanId) ?? [])
          .filter((child) => child.kind === "CLIENT")
          .sort((a, b) => a.start - b.start)
          .map((child) => ({ name: child.name, error: child.status.code === "ERROR", durationMs: child.end - child.start })),
        spanId: span.spanId,
      };
    });
  const final = [...steps].reverse().find((step) => isFinal(step.status));
  const start = steps[0]?.start ?? 0;
  const end = Math.max(...steps.map((step) => step.start + step.durationMs));
  return {
    orderId,
    traceId,
    status: final?.status ?? "PENDING",
    reason: final?.status === "CANCELLED" ? final.reason : "",
    start,
    durationMs: end - start,
    steps,
  };
}
