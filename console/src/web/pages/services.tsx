import { useState } from "preact/hooks";
import { type ComponentView, usePolled } from "../api.js";

const megabytes = (bytes?: number) => (bytes === undefined ? "-" : `${(bytes / 1024 / 1024).toFixed(0)} MB`);
const duration = (seconds?: number) => {
  if (seconds === undefined) return "-";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
};

function healthClass(health: string): string {
  if (health.startsWith("SERVING")) return "ok";
  if (health.startsWith("UNREACHABLE")) return "bad";
  return "warn";
}

/** A policy option as its fields say it (`roles: ROLE_ADMIN; services: orders`, `owner`), whatever its message. */
function policyText(policy: ComponentView["rpcs"][number]["policy"]): string {
  if (policy === null) return "not declared";
  if (typeof policy === "string") return policy;
  const parts = Object.entries(policy).flatMap(([key, value]) => {
    if (value === true) return [key];
    if (Array.isArray(value)) return value.length > 0 ? [`${key}: ${value.join(", ")}`] : [];
    return value === false || value === null ? [] : [`${key}: ${typeof value === "object" ? JSON.stringify(value) : String(value)}`];
  });
  return parts.length > 0 ? parts.join("; ") : "declared, empty (nobody)";
}

function Details({ component }: { component: ComponentView }) {
  return (
    <div class="details">
      {component.reflectionError && <p class="error">reflection: {component.reflectionError}</p>}
      {component.rpcs.length > 0 && (
        <table class="compact" data-testid={`rpcs-${component.name}`}>
          <thead>
            <tr>
              <th>RPC</th>
              <th>request → response</th>
              <th>HTTP</th>
              <th>auth policy</th>
            </tr>
          </thead>
          <tbody>
            {component.rpcs.map((rpc) => {
              const http = rpc.options["google.api.http"] as Record<string, string> | undefined;
              const route = http && Object.entries(http).find(([key]) => ["get", "post", "put", "patch", "delete"].includes(key));
              return (
                <tr key={`${rpc.service}/${rpc.method}`}>
                  <td>
                    <code>
                      {rpc.service.split(".").at(-1)}/{rpc.method}
                    </code>
                  </td>
                  <td class="muted">
                    {rpc.input.split(".").at(-1)} → {rpc.output.split(".").at(-1)}
                  </td>
                  <td>{route ? <code>{`${route[0].toUpperCase()} ${route[1]}`}</code> : <span class="muted">-</span>}</td>
                  <td class={rpc.policy === null ? "muted" : ""}>{policyText(rpc.policy)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div class="columns">
        <div>
          <h4>publishes</h4>
          {component.events.published.length === 0 ? (
            <p class="muted">nothing</p>
          ) : (
            component.events.published.map((s) => (
              <div key={s}>
                <code>{s}</code>
              </div>
            ))
          )}
        </div>
        <div>
          <h4>consumes</h4>
          {component.events.consumed.length === 0 ? (
            <p class="muted">nothing seen in traces yet</p>
          ) : (
            component.events.consumed.map((c) => (
              <div key={`${c.consumer} ${c.subject}`}>
                <code>{c.subject}</code> <span class="muted">as {c.consumer}</span>
              </div>
            ))
          )}
        </div>
        <div>
          <h4>replicas seen in traces</h4>
          {component.instances.length === 0 ? (
            <p class="muted">none yet</p>
          ) : (
            component.instances.map((i) => (
              <div key={i.id}>
                <code>{i.id}</code> {i.version && <span class="muted">version {i.version}</span>}
              </div>
            ))
          )}
        </div>
      </div>
    </div>
  );
}

export function ServicesPage() {
  const { data, error } = usePolled<ComponentView[]>("/api/services", 3_000);
  const [open, setOpen] = useState<string | undefined>();
  return (
    <section>
      <h2>Services</h2>
      {error && <p class="error">{error}</p>}
      {!data ? (
        <p class="muted">loading…</p>
      ) : (
        <table data-testid="services">
          <thead>
            <tr>
              <th>service</th>
              <th>health</th>
              <th>address</th>
              <th>replicas</th>
              <th>version</th>
              <th>uptime</th>
              <th>RSS</th>
              <th>CPU</th>
              <th>RPCs</th>
            </tr>
          </thead>
          <tbody>
            {data.map((component) => [
              <tr key={component.name} class="clickable" onClick={() => setOpen(open === component.name ? undefined : component.name)}>
                <td>
                  <strong>{component.name}</strong>
                </td>
                <td>
                  <span class={`badge ${healthClass(component.health)}`}>{component.health}</span>
                </td>
                <td>
                  <code>{component.address}</code>
                </td>
                <td>{Math.max(component.instances.length, 1)}</td>
                <td class="muted">
                  {component.instances.find((i) => i.version)?.version || "-"}{" "}
                  {component.process?.nodeVersion && `(node ${component.process.nodeVersion})`}
                </td>
                <td>{duration(component.process?.uptimeSeconds)}</td>
                <td>{megabytes(component.process?.rssBytes)}</td>
                <td>{component.process?.cpuPercent === undefined ? "-" : `${component.process.cpuPercent.toFixed(1)} %`}</td>
                <td>{component.kind === "gateway" ? <a href="#/explorer">routes</a> : component.rpcs.length}</td>
              </tr>,
              open === component.name && (
                <tr key={`${component.name}-details`}>
                  <td colSpan={9}>
                    <Details component={component} />
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      <p class="muted">Click a service for its RPCs (from server reflection), events and replicas.</p>
    </section>
  );
}
