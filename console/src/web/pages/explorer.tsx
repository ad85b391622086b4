import { useEffect, useMemo, useState } from "preact/hooks";
import { type ExplorerExchange, formatMs, getJson, postJson } from "../api.js";

type Schema = Record<string, unknown> & {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: unknown[];
  oneOf?: Schema[];
  anyOf?: Schema[];
  format?: string;
};
interface Parameter {
  name: string;
  in: "path" | "query" | "header";
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  operationId: string;
  summary?: string;
  tags?: string[];
  parameters?: Parameter[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Record<string, unknown>[];
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
}
interface Route {
  method: string;
  path: string;
  operation: Operation;
}

/** A skeleton request body from its schema: what a field looks like, to be edited. */
function example(schema: Schema | undefined, components: Record<string, Schema>, depth = 0): unknown {
  if (!schema || depth > 4) return undefined;
  if (schema.$ref) return example(components[schema.$ref.split("/").at(-1)!], components, depth + 1);
  const variant = schema.oneOf?.[0] ?? schema.anyOf?.[0];
  if (variant) return example(variant, components, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (schema.enum) return schema.enum.find((value) => !String(value).endsWith("UNSPECIFIED")) ?? schema.enum[0];
  switch (type) {
    case "object":
      return Object.fromEntries(
        Object.entries(schema.properties ?? {})
          .map(([key, value]) => [key, example(value, components, depth + 1)] as const)
          .filter(([, v]) => v !== undefined),
      );
    case "array": {
      const item = example(schema.items, components, depth + 1);
      return item === undefined ? [] : [item];
    }
    case "integer":
    case "number":
      return 1;
    case "boolean":
      return false;
    case "string":
      return schema.format === "date-time" ? new Date().toISOString() : "";
    default:
      return undefined;
  }
}

const isAuthenticated = (operation: Operation) => (operation.security ?? []).every((requirement) => Object.keys(requirement).length > 0);

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function ExplorerPage() {
  const [spec, setSpec] = useState<OpenApi>();
  const [users, setUsers] = useState<{ id: string; label: string }[]>([]);
  const [error, setError] = useState<string>();
  const [selected, setSelected] = useState<string>("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [body, setBody] = useState("");
  const [user, setUser] = useState("customer");
  const [sending, setSending] = useState(false);
  const [exchange, setExchange] = useState<ExplorerExchange>();

  useEffect(() => {
    getJson<OpenApi>("/api/openapi").then(setSpec, (err: Error) => setError(err.message));
    getJson<{ id: string; label: string }[]>("/api/dev-users").then(setUsers, (err: Error) => setError(err.message));
  }, []);

  const routes = useMemo<Route[]>(
    () =>
      Object.entries(spec?.paths ?? {}).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
      ),
    [spec],
  );
  const route = routes.find((r) => `${r.method} ${r.path}` === selected);

  const choose = (key: string) => {
    setSelected(key);
    setExchange(undefined);
    const next = routes.find((r) => `${r.method} ${r.path}` === key);
    const schema = next?.operation.requestBody?.content?.["application/json"]?.schema;
    setBody(schema ? JSON.stringify(example(schema, spec?.components?.schemas ?? {}), null, 2) : "");
    const initial: Record<string, string> = {};
    for (const parameter of next?.operation.parameters ?? []) {
      if (parameter.in === "header" && parameter.name.toLowerCase() === "idempotency-key")
        initial[parameter.name] = `console-${Date.now()}`;
    }
    setValues(initial);
    if (next && !isAuthenticated(next.operation)) setUser("anonymous");
  };

  const send = async () => {
    if (!route) return;
    setSending(true);
    setError(undefined);
    try {
      const parameters = route.operation.parameters ?? [];
      let path = route.path;
      for (const p of parameters.filter((p) => p.in === "path"))
        path = path.replace(`{${p.name}}`, encodeURIComponent(values[p.name] ?? ""));
      const query = new URLSearchParams();
      for (const p of parameters.filter((p) => p.in === "query")) if (values[p.name]) query.append(p.name, values[p.name]!);
      const headers = Object.fromEntries(
        parameters.filter((p) => p.in === "header" && values[p.name]).map((p) => [p.name, values[p.name]!]),
      );
      const target = query.size > 0 ? `${path}?${query}` : path;
      setExchange(
        await postJson<ExplorerExchange>("/api/explorer/send", {
          method: route.method,
          path: target,
          user,
          headers,
          body: route.operation.requestBody ? body : undefined,
        }),
      );
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSending(false);
    }
  };

  return (
    <section class="explorer">
      <h2>API explorer</h2>
      {error && <p class="error">{error}</p>}
      <div class="split">
        <div class="routes" data-testid="routes">
          {routes.map((r) => {
            const key = `${r.method} ${r.path}`;
            return (
              <button
                type="button"
                key={key}
                class={`route ${key === selected ? "active" : ""}`}
                data-route={key}
                onClick={() => choose(key)}
              >
                <span class={`method ${r.method.toLowerCase()}`}>{r.method}</span> {r.path}
                {isAuthenticated(r.operation) && (
                  <span class="lock" title="needs a token">
                    {" "}
                    🔒
                  </span>
                )}
              </button>
            );
          })}
        </div>
        <div class="request">
          {!route ? (
            <p class="muted">Pick a route. Requests go through the gateway as the user you choose; each one starts a trace you can open.</p>
          ) : (
            <>
              <h3>
                <span class={`method ${route.method.toLowerCase()}`}>{route.method}</span> <code>{route.path}</code>{" "}
                <span class="muted">{route.operation.summary}</span>
              </h3>
              <label>
                as{" "}
                <select value={user} onChange={(e) => setUser((e.target as HTMLSelectElement).value)} data-testid="user">
                  {users.map((u) => (
                    <option key={u.id} value={u.id}>
                      {u.label}
                    </option>
                  ))}
                </select>
              </label>
              {(route.operation.parameters ?? []).map((p) => (
                <label key={`${p.in} ${p.name}`} class="parameter">
                  <span>
                    {p.name}{" "}
                    <span class="muted">
                      ({p.in}
                      {p.required ? ", required" : ""})
                    </span>
                  </span>
                  <input
                    value={values[p.name] ?? ""}
                    data-parameter={p.name}
                    onInput={(e) => setValues({ ...values, [p.name]: (e.target as HTMLInputElement).value })}
                  />
                </label>
              ))}
              {route.operation.requestBody && (
                <label class="parameter">
                  <span>body (JSON)</span>
                  <textarea rows={14} value={body} data-testid="body" onInput={(e) => setBody((e.target as HTMLTextAreaElement).value)} />
                </label>
              )}
              <button type="button" class="primary" onClick={send} disabled={sending} data-testid="send">
                {sending ? "sending…" : "Send"}
              </button>
            </>
          )}
          {exchange && (
            <div class="exchange" data-testid="exchange">
              <h4>request</h4>
              <pre>
                {`${exchange.request.method} ${exchange.request.url}\n`}
                {Object.entries(exchange.request.headers)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join("\n")}
                {exchange.request.body ? `\n\n${exchange.request.body}` : ""}
              </pre>
              <h4>
                response{" "}
                {"status" in exchange.response && (
                  <span class={`badge ${exchange.response.status < 400 ? "ok" : "bad"}`} data-testid="status">
                    {exchange.response.status}
                  </span>
                )}{" "}
                <span class="muted">{formatMs(exchange.durationMs)}</span>{" "}
                <a href={`#/traces/${exchange.traceId}`} data-testid="trace-link">
                  open its trace
                </a>
              </h4>
              <pre data-testid="response-body">
                {"status" in exchange.response ? pretty(exchange.response.body) : exchange.response.error}
              </pre>
            </div>
          )}
        </div>
      </div>
    </section>
  );
}
