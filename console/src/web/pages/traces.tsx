import { useState } from "preact/hooks";
import { formatMs, formatTime, type ReceivedSpan, serviceColor, type TraceDetail, type TraceSummary, usePolled } from "../api.js";

interface Row {
  span: ReceivedSpan;
  depth: number;
}

/** Spans in tree order (each after its parent, siblings by start), with their depth. */
function treeRows(spans: readonly ReceivedSpan[]): Row[] {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const parent = ids.has(span.parentSpanId) ? span.parentSpanId : "";
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: Row[] = [];
  const visit = (parent: string, depth: number) => {
    for (const span of (children.get(parent) ?? []).sort((a, b) => a.start - b.start)) {
      rows.push({ span, depth });
      visit(span.spanId, depth + 1);
    }
  };
  visit("", 0);
  return rows;
}

function Attributes({ span }: { span: ReceivedSpan }) {
  return (
    <div class="attributes" data-testid="span-details">
      <h4>
        {span.service} · {span.name}
      </h4>
      <p class="muted">
        {span.kind} · {formatMs(span.end - span.start)} · span {span.spanId}
        {span.parentSpanId && ` · parent ${span.parentSpanId}`}
        {span.status.code === "ERROR" && <span class="error"> · {span.status.message || "error"}</span>}
      </p>
      <table class="compact">
        <tbody>
          {Object.entries(span.attributes).map(([key, value]) => (
            <tr key={key}>
              <td>
                <code>{key}</code>
              </td>
              <td>{typeof value === "string" ? value : JSON.stringify(value)}</td>
            </tr>
          ))}
          {Object.entries(span.resource)
            .filter(([key]) => key !== "service.name")
            .map(([key, value]) => (
              <tr key={`resource ${key}`} class="muted">
                <td>
                  <code>resource {key}</code>
                </td>
                <td>{String(value)}</td>
              </tr>
            ))}
        </tbody>
      </table>
      {span.links.length > 0 && (
        <p>
          links:{" "}
          {span.links.map((link) => (
            <a key={link.spanId} href={`#/traces/${link.traceId}`}>
              {link.traceId.slice(0, 8)}…/{link.spanId}{" "}
            </a>
          ))}
        </p>
      )}
    </div>
  );
}

function Waterfall({ traceId }: { traceId: string }) {
  const { data, error } = usePolled<TraceDetail>(`/api/traces/${traceId}`, 2_000);
  const [selected, setSelected] = useState<string>();
  if (!data) return <p class={error ? "error" : "muted"}>{error ?? "loading…"}</p>;
  const rows = treeRows(data.spans);
  const start = data.start;
  const total = Math.max(data.durationMs, 0.001);
  const chosen = data.spans.find((span) => span.spanId === selected) ?? data.linked.find((span) => span.spanId === selected);
  return (
    <div>
      <p>
        <a href="#/traces">← all traces</a> · trace <code>{data.traceId}</code> · {data.spanCount} spans · {formatMs(data.durationMs)} ·{" "}
        {data.services.map((service) => (
          <span key={service} class="chip" style={{ background: serviceColor(service) }}>
            {service}
          </span>
        ))}
        {data.errorCount > 0 && <span class="badge bad">{data.errorCount} errors</span>}
      </p>
      <div class="waterfall" data-testid="waterfall">
        {rows.map(({ span, depth }) => {
          const left = ((span.start - start) / total) * 100;
          const width = Math.max(((span.end - span.start) / total) * 100, 0.3);
          return (
            <button
              type="button"
              key={span.spanId}
              class={`span-row ${span.status.code === "ERROR" ? "error-row" : ""} ${selected === span.spanId ? "selected" : ""}`}
              data-service={span.service}
              onClick={() => setSelected(span.spanId)}
            >
              <div class="span-label" style={{ paddingLeft: `${depth * 14}px` }} title={span.name}>
                <span class="dot" style={{ background: serviceColor(span.service) }} />
                <span class="service">{span.service}</span> {span.name}
              </div>
              <div class="span-track">
                <div
                  class="span-bar"
                  style={{
                    left: `${left}%`,
                    width: `${width}%`,
                    background: span.status.code === "ERROR" ? "#d62728" : serviceColor(span.service),
                  }}
                />
                <span class="span-time" style={{ left: `${Math.min(left + width, 92)}%` }}>
                  {formatMs(span.end - span.start)}
                </span>
              </div>
            </button>
          );
        })}
      </div>
      {data.linked.length > 0 && (
        <div>
          <h4>linked from other traces (batches that processed this trace's messages with others)</h4>
          {data.linked.map((span) => (
            <div key={span.spanId}>
              <a href={`#/traces/${span.traceId}`}>
                {span.service} · {span.name}
              </a>
            </div>
          ))}
        </div>
      )}
      {chosen && <Attributes span={chosen} />}
    </div>
  );
}

export function TracesPage({ traceId }: { traceId?: string }) {
  const [query, setQuery] = useState("");
  const { data, error } = usePolled<{ traces: TraceSummary[] }>(`/api/traces?q=${encodeURIComponent(query)}`, traceId ? 0 : 2_000);
  const overview = usePolled<{ otlpEndpoint: string | null }>("/api/overview", 0);
  return (
    <section>
      <h2>Traces</h2>
      {overview.data?.otlpEndpoint && (
        <p class="warn">
          The services send their spans to <code>{overview.data.otlpEndpoint}</code>, not to this console: only the API explorer's own spans
          show here.
        </p>
      )}
      {traceId ? (
        <Waterfall traceId={traceId} />
      ) : (
        <>
          <input
            class="search"
            placeholder="search by order id, request id, event id or trace id"
            value={query}
            data-testid="trace-search"
            onInput={(e) => setQuery((e.target as HTMLInputElement).value)}
          />
          {error && <p class="error">{error}</p>}
          <table data-testid="traces">
            <thead>
              <tr>
                <th>time</th>
                <th>root</th>
                <th>services</th>
                <th>spans</th>
                <th>duration</th>
              </tr>
            </thead>
            <tbody>
              {(data?.traces ?? []).map((trace) => (
                <tr
                  key={trace.traceId}
                  class={`clickable ${trace.errorCount > 0 ? "error-row" : ""}`}
                  onClick={() => (window.location.hash = `#/traces/${trace.traceId}`)}
                >
                  <td>{formatTime(trace.start)}</td>
                  <td>
                    <span class="service">{trace.rootService}</span> {trace.name}
                  </td>
                  <td>
                    {trace.services.map((service) => (
                      <span key={service} class="chip" style={{ background: serviceColor(service) }}>
                        {service}
                      </span>
                    ))}
                  </td>
                  <td>
                    {trace.spanCount}
                    {trace.errorCount > 0 && <span class="badge bad">{trace.errorCount} errors</span>}
                  </td>
                  <td>{formatMs(trace.durationMs)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data && data.traces.length === 0 && <p class="muted">No traces received yet{query ? " for that search" : ""}.</p>}
        </>
      )}
    </section>
  );
}
