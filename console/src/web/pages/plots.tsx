import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { type Plots, type RequestPoint, usePolled } from "../api.js";

interface ChartProps {
  title: string;
  series: { label: string; values: (number | null)[] }[];
  times: number[];
  unit: string;
}

/** A uPlot line chart, redrawn when its data changes. */
function Chart({ title, series, times, unit }: ChartProps) {
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | undefined>(undefined);
  const colors = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2"];
  const shape = series.map((s) => s.label).join("|");
  useEffect(() => {
    if (!element.current) return;
    chart.current?.destroy();
    chart.current = new uPlot(
      {
        title,
        width: Math.min(element.current.clientWidth || 560, 560),
        height: 220,
        series: [
          {},
          ...series.map((s, index) => ({
            label: s.label,
            stroke: colors[index % colors.length],
            width: 1.5,
            value: (_: uPlot, v: number | null) => (v == null ? "-" : `${v.toFixed(2)} ${unit}`),
          })),
        ],
        axes: [{}, { label: unit }],
      },
      [times.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData,
      element.current,
    );
    return () => chart.current?.destroy();
  }, [shape, title]);
  useEffect(() => {
    chart.current?.setData([times.map((t) => t / 1000), ...series.map((s) => s.values)] as uPlot.AlignedData);
  });
  return <div class="chart" ref={element} />;
}

function RequestCharts({ name, points }: { name: string; points: RequestPoint[] }) {
  const times = points.map((p) => p[0]);
  return (
    <div class="charts">
      <Chart
        title={`${name}: calls/s`}
        unit="/s"
        times={times}
        series={[
          { label: "calls", values: points.map((p) => p[1]) },
          { label: "errors", values: points.map((p) => p[2]) },
        ]}
      />
      <Chart
        title={`${name}: latency`}
        unit="ms"
        times={times}
        series={[
          { label: "p50", values: points.map((p) => p[3]) },
          { label: "p95", values: points.map((p) => p[4]) },
          { label: "p99", values: points.map((p) => p[5]) },
        ]}
      />
    </div>
  );
}

function Picker({
  label,
  list,
  value,
  onChange,
}: {
  label: string;
  list: { key: string }[];
  value: string;
  onChange: (key: string) => void;
}) {
  return (
    <label>
      {label}{" "}
      <select value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {list.map(({ key }) => (
          <option key={key} value={key}>
            {key}
          </option>
        ))}
      </select>
    </label>
  );
}

const busiest = (list: { key: string; points: RequestPoint[] }[]) =>
  [...list].sort((a, b) => b.points.reduce((s, p) => s + p[1], 0) - a.points.reduce((s, p) => s + p[1], 0))[0]?.key ?? "";

export function PlotsPage() {
  const { data, error } = usePolled<Plots>("/api/plots", 2_000);
  const [route, setRoute] = useState("");
  const [rpc, setRpc] = useState("");
  if (!data) return <section>{error ? <p class="error">{error}</p> : <p class="muted">loading…</p>}</section>;
  const routeKey = route || busiest(data.routes);
  const rpcKey = rpc || busiest(data.rpcs);
  const routeSeries = data.routes.find((r) => r.key === routeKey);
  const rpcSeries = data.rpcs.find((r) => r.key === rpcKey);
  const checkouts = data.checkouts.points;
  return (
    <section>
      <h2>Plots</h2>
      <p class="muted">
        From the services' Prometheus metrics, scraped every {data.intervalMs / 1000} s; each point covers the {data.windowMs / 1000} s
        before it. Errors: HTTP 5xx, gRPC codes that say the server failed.
      </p>
      <h3>checkouts</h3>
      <div class="charts" data-testid="checkout-chart">
        <Chart
          title="checkouts ended per second"
          unit="/s"
          times={checkouts.map((p) => p[0])}
          series={[
            { label: "confirmed", values: checkouts.map((p) => p[1]) },
            { label: "cancelled", values: checkouts.map((p) => p[2]) },
          ]}
        />
        <table class="compact">
          <tbody>
            {Object.entries(data.checkouts.cancelledByReason).map(([reason, count]) => (
              <tr key={reason}>
                <td>cancelled: {reason}</td>
                <td>{count}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>
        per route <Picker label="" list={data.routes} value={routeKey} onChange={setRoute} />
      </h3>
      {routeSeries ? <RequestCharts name={routeSeries.key} points={routeSeries.points} /> : <p class="muted">no requests yet</p>}
      <h3>
        per RPC <Picker label="" list={data.rpcs} value={rpcKey} onChange={setRpc} />
      </h3>
      {rpcSeries ? <RequestCharts name={rpcSeries.key} points={rpcSeries.points} /> : <p class="muted">no calls yet</p>}
    </section>
  );
}
