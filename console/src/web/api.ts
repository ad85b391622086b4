import { useEffect, useState } from "preact/hooks";

export type { ConsumerState, DeadLetter, StreamState, TailedMessage } from "../server/events.js";
export type { ExplorerExchange } from "../server/explorer.js";
export type { Plots, RequestPoint } from "../server/metrics.js";
export type { ReceivedSpan } from "../server/otlp.js";
export type { ComponentView } from "../server/services.js";
export type { SagaStep, SagaTimeline, TraceDetail, TraceSummary } from "../server/trace-store.js";

/** GET of the console's own API; a failure carries the server's message. */
export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path);
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${path} answered ${response.status}`);
  return body;
}

export async function postJson<T>(path: string, value: unknown): Promise<T> {
  const response = await fetch(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(value) });
  const body = (await response.json()) as T & { error?: string };
  if (!response.ok) throw new Error(body.error ?? `${path} answered ${response.status}`);
  return body;
}

export interface Loaded<T> {
  data?: T;
  error?: string;
}

/** `path` read now and every `intervalMs` while the page shows it (0: once). */
export function usePolled<T>(path: string, intervalMs: number): Loaded<T> {
  const [state, setState] = useState<Loaded<T>>({});
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    const load = async () => {
      try {
        const data = await getJson<T>(path);
        if (!stopped) setState({ data });
      } catch (err) {
        if (!stopped) setState((previous) => ({ data: previous.data, error: (err as Error).message }));
      }
      if (!stopped && intervalMs > 0) timer = window.setTimeout(load, intervalMs);
    };
    void load();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [path, intervalMs]);
  return state;
}

export const formatMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 1)} ms`);
export const formatTime = (epochMs: number) => new Date(epochMs).toLocaleTimeString(undefined, { hour12: false });

/** One colour per service, the same on every page. */
const palette = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7", "#9c755f", "#bab0ac", "#e15759"];
const known = ["gateway", "users", "catalog", "inventory", "orders", "payments", "shipping", "notifications", "dev-console"];
export function serviceColor(service: string): string {
  const index = known.indexOf(service);
  if (index >= 0) return palette[index % palette.length]!;
  let hash = 0;
  for (const char of service) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return palette[Math.abs(hash) % palette.length]!;
}
