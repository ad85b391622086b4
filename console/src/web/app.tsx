import { useEffect, useState } from "preact/hooks";
import { EventsPage } from "./pages/events.js";
import { ExplorerPage } from "./pages/explorer.js";
import { PlotsPage } from "./pages/plots.js";
import { SagasPage } from "./pages/sagas.js";
import { ServicesPage } from "./pages/services.js";
import { TracesPage } from "./pages/traces.js";

const pages = [
  { id: "services", title: "Services" },
  { id: "explorer", title: "API explorer" },
  { id: "traces", title: "Traces" },
  { id: "sagas", title: "Sagas" },
  { id: "events", title: "Events" },
  { id: "plots", title: "Plots" },
] as const;

/** `#/traces/<id>` -> ["traces", "<id>"]. */
function route(): string[] {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  return parts.length > 0 ? parts : ["services"];
}

export function App() {
  const [path, setPath] = useState(route);
  useEffect(() => {
    const onChange = () => setPath(route());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  const [page, ...rest] = path;
  return (
    <div class="shell">
      <nav>
        <div class="brand">shop · dev console</div>
        {pages.map(({ id, title }) => (
          <a key={id} href={`#/${id}`} class={page === id ? "active" : ""} data-page={id}>
            {title}
          </a>
        ))}
      </nav>
      <main>
        {page === "services" && <ServicesPage />}
        {page === "explorer" && <ExplorerPage />}
        {page === "traces" && <TracesPage traceId={rest[0]} />}
        {page === "sagas" && <SagasPage />}
        {page === "events" && <EventsPage />}
        {page === "plots" && <PlotsPage />}
      </main>
    </div>
  );
}
