import { formatMs, formatTime, type SagaStep, type SagaTimeline, usePolled } from "../api.js";

const compensations = new Set(["VOID_PAYMENT", "RELEASE_STOCK", "CANCEL_SHIPMENT", "REFUND_PAYMENT"]);

function stepClass(step: SagaStep): string {
  if (step.outcome === "succeeded") return compensations.has(step.step) ? "compensation" : "ok";
  if (step.outcome === "rejected") return "rejected";
  return "bad";
}

function Timeline({ saga }: { saga: SagaTimeline }) {
  const total = Math.max(saga.durationMs, 0.001);
  return (
    <div class="saga" data-testid="saga" data-order={saga.orderId} data-status={saga.status}>
      <div class="saga-head">
        <span
          class={`badge ${saga.status === "CONFIRMED" ? "ok" : saga.status === "CANCELLED" ? "bad" : "warn"}`}
          data-testid="saga-status"
        >
          {saga.status}
        </span>{" "}
        {saga.reason && <span class="error">{saga.reason}</span>} order <code>{saga.orderId}</code> · {formatTime(saga.start)} ·{" "}
        {formatMs(saga.durationMs)} · <a href={`#/traces/${saga.traceId}`}>trace</a>
      </div>
      <div class="saga-track">
        {saga.steps.map((step) => (
          <div
            key={step.spanId}
            class={`saga-step ${stepClass(step)}`}
            style={{ left: `${((step.start - saga.start) / total) * 100}%`, width: `${Math.max((step.durationMs / total) * 100, 0.5)}%` }}
            title={`${step.step} attempt ${step.attempt}: ${step.outcome} ${step.detail}`}
          />
        ))}
      </div>
      <table class="compact">
        <thead>
          <tr>
            <th>step</th>
            <th>attempt</th>
            <th>outcome</th>
            <th>calls</th>
            <th>took</th>
            <th>then</th>
          </tr>
        </thead>
        <tbody>
          {saga.steps.map((step) => (
            <tr key={step.spanId} class={stepClass(step)}>
              <td>
                <strong>{step.step}</strong>
                {compensations.has(step.step) && <span class="muted"> (compensation)</span>}
              </td>
              <td>{step.attempt}</td>
              <td>
                {step.outcome}
                {step.detail && <span class="muted"> · {step.detail}</span>}
              </td>
              <td>
                {step.calls.map((call, index) => (
                  <span key={index} class={`call ${call.error ? "bad" : ""}`} title={`${call.name} ${formatMs(call.durationMs)}`}>
                    {call.name.split("/").at(-1)}
                    {call.error ? " ✗" : ""}
                  </span>
                ))}
              </td>
              <td>{formatMs(step.durationMs)}</td>
              <td>
                {step.retryDelayMs !== undefined ? `retry in ${step.retryDelayMs} ms` : step.status}
                {step.reason && step.status !== "FORWARD" && <span class="muted"> · {step.reason}</span>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function SagasPage() {
  const { data, error } = usePolled<{ sagas: SagaTimeline[] }>("/api/sagas", 1_500);
  return (
    <section>
      <h2>Sagas</h2>
      <p class="muted">
        Checkout sagas of recent orders, from the spans of their steps: attempts, outcomes, compensations, backoffs, the final status.
      </p>
      {error && <p class="error">{error}</p>}
      {data?.sagas.length === 0 && <p class="muted">No saga traced yet: place an order (API explorer, POST /v1/orders).</p>}
      {data?.sagas.map((saga) => (
        <Timeline key={saga.orderId} saga={saga} />
      ))}
    </section>
  );
}
