import { useEffect, useState } from "preact/hooks";
import { type ConsumerState, type DeadLetter, formatTime, type StreamState, type TailedMessage, usePolled } from "../api.js";

interface EventsState {
  streams: StreamState[];
  consumers: ConsumerState[];
  deadLetters: DeadLetter[];
  outboxLag: { service: string; lagSeconds: number | null }[];
}

function useTail(limit: number): TailedMessage[] {
  const [messages, setMessages] = useState<TailedMessage[]>([]);
  useEffect(() => {
    const source = new EventSource("/api/events/stream");
    source.onmessage = (event) => setMessages((list) => [JSON.parse(event.data) as TailedMessage, ...list].slice(0, limit));
    return () => source.close();
  }, [limit]);
  return messages;
}

export function EventsPage() {
  const { data, error } = usePolled<EventsState>("/api/events", 2_000);
  const tail = useTail(200);
  const [open, setOpen] = useState<number>();
  return (
    <section>
      <h2>Events</h2>
      {error && <p class="error">{error}</p>}
      <div class="columns">
        <div>
          <h3>durable consumers</h3>
          <table class="compact" data-testid="consumers">
            <thead>
              <tr>
                <th>stream</th>
                <th>consumer</th>
                <th>pending</th>
                <th>unacked</th>
                <th>redelivered</th>
              </tr>
            </thead>
            <tbody>
              {(data?.consumers ?? []).map((c) => (
                <tr key={`${c.stream} ${c.name}`} class={c.pending + c.ackPending > 0 ? "warn" : ""}>
                  <td>{c.stream}</td>
                  <td>
                    <code>{c.name}</code>
                  </td>
                  <td>{c.pending}</td>
                  <td>{c.ackPending}</td>
                  <td>{c.redelivered}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h3>outbox lag</h3>
          <table class="compact">
            <tbody>
              {(data?.outboxLag ?? []).map((o) => (
                <tr key={o.service}>
                  <td>{o.service}</td>
                  <td>{o.lagSeconds === null ? <span class="muted">-</span> : `${o.lagSeconds.toFixed(3)} s`}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>streams</h3>
          <table class="compact">
            <tbody>
              {(data?.streams ?? []).map((s) => (
                <tr key={s.name}>
                  <td>{s.name}</td>
                  <td>{s.messages} messages</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <h3>dead letters</h3>
      {data?.deadLetters.length === 0 ? (
        <p class="muted">none</p>
      ) : (
        <table class="compact" data-testid="dead-letters">
          <thead>
            <tr>
              <th>time</th>
              <th>consumer</th>
              <th>subject</th>
              <th>deliveries</th>
              <th>error</th>
            </tr>
          </thead>
          <tbody>
            {(data?.deadLetters ?? []).map((d) => (
              <tr key={d.sequence} class="error-row">
                <td>{d.time}</td>
                <td>{d.consumer}</td>
                <td>
                  <code>{d.subject}</code>
                </td>
                <td>{d.deliveries}</td>
                <td>{d.error}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>live tail</h3>
      <table class="compact" data-testid="tail">
        <thead>
          <tr>
            <th>time</th>
            <th>subject</th>
            <th>event id</th>
            <th>request id</th>
          </tr>
        </thead>
        <tbody>
          {tail.map((m, index) => [
            <tr key={`${m.headers["Nats-Msg-Id"]}-${index}`} class="clickable" onClick={() => setOpen(open === index ? undefined : index)}>
              <td>{formatTime(m.receivedAt)}</td>
              <td>
                <code>{m.subject}</code>
              </td>
              <td class="muted">{m.headers["Nats-Msg-Id"]}</td>
              <td class="muted">{m.headers["x-request-id"]}</td>
            </tr>,
            open === index && (
              <tr key={`${index}-open`}>
                <td colSpan={4}>
                  <pre>{JSON.stringify({ headers: m.headers, payload: m.payload }, null, 2)}</pre>
                </td>
              </tr>
            ),
          ])}
        </tbody>
      </table>
      {tail.length === 0 && <p class="muted">Waiting for events…</p>}
    </section>
  );
}
