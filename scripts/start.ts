/**
 * `npm start`: the whole system on this machine. Makes PostgreSQL and NATS available, starts
 * every service that exists (in dependency order, each once the previous one answers its gRPC
 * health check), restarts any that dies, then the gateway, and prints where everything listens.
 * Ctrl-C or SIGTERM stops the children gracefully (gateway first) before exiting.
 *
 * Configuration is the services' own environment: `<SERVICE>_HOST`, `<SERVICE>_PORT`,
 * `<SERVICE>_METRICS_PORT`, `GATEWAY_HOST`, `GATEWAY_PORT`, `SHUTDOWN_GRACE_MS`, ...
 *
 * The development console (`console/`) starts first, on `DEV_CONSOLE_PORT` (8090; 0 turns it off,
 * and so does `NODE_ENV=production`), and the services send it their spans over OTLP unless
 * `OTEL_TRACES_EXPORTER` or an OTLP endpoint says otherwise.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { createInterface } from "node:readline";
import type { ShopContext } from "@shop/contracts";
import { envPrefix, topology } from "@shop/runtime";
import { developmentKeys, processCredentials } from "./dev-credentials.js";
import { ensureInfra, grpcServing, httpOk, InfraError, type InfraSettings, infraSettings, repoRoot, waitUntil } from "./infra.js";

/** Callees before callers: orders drives the checkout saga over the others. */
const serviceOrder = [
  "users",
  "catalog",
  "inventory",
  "payments",
  "shipping",
  "orders",
  "notifications",
] as const satisfies readonly ShopContext[];

const readyTimeoutMs = 120_000;
const restartBackoff = { initialMs: 1_000, maxMs: 30_000, stableAfterMs: 30_000 };
const configuredGraceMs = Number(process.env.SHUTDOWN_GRACE_MS);
/** How long a child may take to stop before it is killed: its own grace period and a margin. */
const shutdownGraceMs = (Number.isInteger(configuredGraceMs) ? configuredGraceMs : 10_000) + 5_000;
/** What `runService` exits with on invalid configuration: restarting cannot help. */
const configurationErrorExitCode = 2;

interface Component {
  name: string;
  entry: string;
  /** Where it answers: `host:port` for gRPC services, a URL for the gateway. */
  endpoint: string;
  metrics: string | undefined;
  isReady(): Promise<boolean>;
}

/** Services bind every interface by default; probe them on loopback. */
const reachableHost = (host: string | undefined) => (!host || host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host);

function metricsUrl(host: string, port: number): string | undefined {
  return port > 0 ? `http://${host}:${port}/metrics` : undefined;
}

function portFrom(source: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const raw = source[variable];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InfraError(`${variable} must be a port number, got "${raw}"`);
  return port;
}

/** The development console, unless it is turned off or this is production. */
function consoleComponent(source: NodeJS.ProcessEnv): Component | undefined {
  const port = portFrom(source, "DEV_CONSOLE_PORT", 8090);
  if (port === 0 || source.NODE_ENV === "production") return undefined;
  const endpoint = `http://${reachableHost(source.DEV_CONSOLE_HOST)}:${port}`;
  return {
    name: "console",
    entry: path.join(repoRoot, "console", "src", "server", "main.ts"),
    endpoint,
    metrics: undefined,
    isReady: () => httpOk(`${endpoint}/api/overview`),
  };
}

/**
 * The commit the children run, as `service.version` of their spans (`-dirty` with uncommitted
 * changes), so the console tells replicas started from different code apart; none outside git.
 */
function sourceVersion(): string | undefined {
  try {
    const git = (...args: string[]) =>
      execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return `${git("rev-parse", "--short", "HEAD")}${git("status", "--porcelain", "--untracked-files=no") ? "-dirty" : ""}`;
  } catch {
    return undefined;
  }
}

/** `OTEL_RESOURCE_ATTRIBUTES` with `service.version` added, unless it names one already. */
function withServiceVersion(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const attributes = source.OTEL_RESOURCE_ATTRIBUTES ?? "";
  if (/(^|,)\s*service\.version=/.test(attributes)) return source;
  const version = sourceVersion();
  if (!version) return source;
  return { ...source, OTEL_RESOURCE_ATTRIBUTES: attributes ? `${attributes},service.version=${version}` : `service.version=${version}` };
}

/**
 * The tracing variables of the children: the console as their OTLP/HTTP endpoint when it runs and
 * no exporter or endpoint was chosen, with a short export delay so a trace shows within a second.
 */
function tracingEnvironment(source: NodeJS.ProcessEnv, consoleEndpoint: string | undefined): NodeJS.ProcessEnv {
  const exporters = source.OTEL_TRACES_EXPORTER;
  const endpointSet = Boolean(source.OTEL_EXPORTER_OTLP_ENDPOINT || source.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (!consoleEndpoint || endpointSet || exporters?.split(",").every((name) => name.trim() !== "otlp")) {
    return source;
  }
  return {
    ...source,
    OTEL_TRACES_EXPORTER: exporters ?? "otlp",
    OTEL_EXPORTER_OTLP_ENDPOINT: consoleEndpoint,
    OTEL_BSP_SCHEDULE_DELAY: source.OTEL_BSP_SCHEDULE_DELAY ?? "500",
  };
}

/** A service is started when its `src/main.ts` exists. */
function presentComponents(source: NodeJS.ProcessEnv = process.env): { present: Component[]; absent: string[] } {
  const devConsole = consoleComponent(source);
  const present: Component[] = devConsole ? [devConsole] : [];
  const absent: string[] = [];
  for (const context of serviceOrder) {
    const entry = path.join(repoRoot, "services", context, "src", "main.ts");
    if (!existsSync(entry)) {
      absent.push(context);
      continue;
    }
    const prefix = envPrefix(context);
    const host = reachableHost(source[`${prefix}_HOST`]);
    const endpoint = `${host}:${portFrom(source, `${prefix}_PORT`, topology[context].port)}`;
    const metricsPort = portFrom(source, `${prefix}_METRICS_PORT`, topology[context].metricsPort);
    present.push({ name: context, entry, endpoint, metrics: metricsUrl(host, metricsPort), isReady: () => grpcServing(endpoint) });
  }
  const gatewayEntry = path.join(repoRoot, "gateway", "src", "main.ts");
  if (existsSync(gatewayEntry)) {
    const endpoint = `http://${reachableHost(source.GATEWAY_HOST)}:${portFrom(source, "GATEWAY_PORT", 8080)}`;
    present.push({
      name: "gateway",
      entry: gatewayEntry,
      endpoint,
      metrics: `${endpoint}/metrics`,
      isReady: () => httpOk(`${endpoint}/healthz`),
    });
  } else {
    absent.push("gateway");
  }
  return { present, absent };
}

/** True when something accepts TCP connections at `host:port` or at the URL's host and port. */
function somethingListens(endpoint: string): Promise<boolean> {
  const { hostname, port } = new URL(endpoint.includes("://") ? endpoint : `tcp://${endpoint}`);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port) });
    const finish = (listening: boolean) => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
  });
}

const nameWidth = Math.max(...[...serviceOrder, "gateway", "console"].map((name) => name.length));
const say = (line: string) => console.log(`${"start".padEnd(nameWidth)} | ${line}`);

/** One child process, restarted with exponential backoff whenever it exits unasked. */
class SupervisedProcess {
  private child: ChildProcess | undefined;
  private restarts = 0;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Set when it exited in a way a restart cannot fix. */
  failure: string | undefined;

  constructor(
    readonly component: Component,
    /** Its environment: this one's, with the tracing settings and its development credentials. */
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    const startedAt = Date.now();
    const child = spawn(process.execPath, ["--import", "tsx", path.relative(repoRoot, this.component.entry)], {
      cwd: repoRoot,
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a Ctrl-C reaches only this supervisor, which stops children in order.
      detached: true,
    });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => console.log(`${this.component.name.padEnd(nameWidth)} | ${line}`));
    }
    child.once("error", (err) => say(`${this.component.name}: ${err.message}`));
    child.once("exit", (code, signal) => {
      this.child = undefined;
      if (this.stopping) return;
      if (code === configurationErrorExitCode) {
        this.failure = `${this.component.name} exited with code ${code}: invalid configuration, which a restart cannot fix`;
        say(this.failure);
        return;
      }
      const upMs = Date.now() - startedAt;
      if (upMs >= restartBackoff.stableAfterMs) this.restarts = 0;
      const delayMs = Math.min(restartBackoff.maxMs, restartBackoff.initialMs * 2 ** this.restarts);
      this.restarts += 1;
      say(
        `${this.component.name} exited (${signal ?? `code ${code}`}) after ${(upMs / 1000).toFixed(1)} s; ` +
          `restarting in ${delayMs / 1000} s (restart #${this.restarts})`,
      );
      this.restartTimer = setTimeout(() => this.start(), delayMs);
    });
  }

  /** From now on an exit is expected: no more restarts. */
  expectExit(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period. */
  async stop(): Promise<void> {
    this.expectExit();
    const child = this.child;
    if (!child) return;
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    const force = setTimeout(() => {
      say(`${this.component.name} did not stop within ${shutdownGraceMs / 1000} s; killing it`);
      child.kill("SIGKILL");
    }, shutdownGraceMs);
    await exited;
    clearTimeout(force);
  }

  kill(): void {
    this.expectExit();
    this.child?.kill("SIGKILL");
  }
}

function printTable(
  running: SupervisedProcess[],
  absent: string[],
  components: Component[],
  settings: InfraSettings,
  env: NodeJS.ProcessEnv,
): void {
  const gateway = components.find((component) => component.name === "gateway");
  const devConsole = components.find((component) => component.name === "console");
  const rows = [
    ["", "listens on", "metrics", "pid"],
    ...running.map(({ component, pid }) => [component.name, component.endpoint, component.metrics ?? "-", String(pid ?? "-")]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = [
    "",
    ...rows.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join("   ")}`.trimEnd()),
    "",
    `  PostgreSQL ${new URL(settings.postgresUrl).host} (one database shop_<service> each)   NATS ${settings.natsUrl}`,
    ...(absent.length > 0 ? [`  not started (no src/main.ts yet): ${absent.join(", ")}`] : []),
    "",
    gateway
      ? `  Gateway: ${gateway.endpoint}   (try ${gateway.endpoint}/v1/products)`
      : "  No gateway yet: call the services over gRPC, e.g. `npx buf curl --protocol grpc --http2-prior-knowledge --list-methods http://<listens on>`",
    devConsole
      ? `  Development console: ${devConsole.endpoint}   (services, API explorer, traces, sagas, events, plots)`
      : "  Development console: off (DEV_CONSOLE_PORT=0 or NODE_ENV=production)",
    env.OTEL_TRACES_EXPORTER
      ? `  Traces: ${env.OTEL_TRACES_EXPORTER} to ${env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || "the exporter's default endpoint"}`
      : "  Traces: recorded, not exported (OTEL_TRACES_EXPORTER unset)",
    "  Ctrl-C stops everything.",
    "",
  ];
  console.log(lines.join("\n"));
}

async function main(): Promise<void> {
  const { present, absent } = presentComponents();
  const childEnv = tracingEnvironment(withServiceVersion(process.env), present.find((component) => component.name === "console")?.endpoint);
  if (present.length === 0) throw new InfraError("no service to start: none of services/*/src/main.ts or gateway/src/main.ts exists");

  const supervised: SupervisedProcess[] = [];
  const stopping = new AbortController();
  let exitCode = 0;
  const stopAll = async (reason: string) => {
    if (stopping.signal.aborted) {
      say("stopping now (second signal)");
      for (const child of supervised) child.kill();
      process.exit(130);
    }
    stopping.abort();
    for (const child of supervised) child.expectExit();
    say(
      `${reason}: stopping ${
        supervised
          .map((child) => child.component.name)
          .reverse()
          .join(", ") || "nothing"
      }`,
    );
    // Front door first, then callers before the services they call.
    for (const child of [...supervised].reverse()) await child.stop();
    say("stopped");
    process.exit(exitCode);
  };
  process.on("SIGINT", () => void stopAll("SIGINT"));
  process.on("SIGTERM", () => void stopAll("SIGTERM"));
  // Children have their own process groups: never leave them behind, whatever ends this process.
  process.on("exit", () => {
    for (const child of supervised) child.kill();
  });

  const settings = await infraSettings();
  await ensureInfra(settings);
  const keys = developmentKeys();
  for (const component of present) {
    if (stopping.signal.aborted) return;
    if (await somethingListens(component.endpoint)) {
      say(`${component.endpoint} is already taken (is the system already running?); ${component.name} cannot listen there`);
      exitCode = 1;
      await stopAll("startup failed");
      return;
    }
    const startedAt = Date.now();
    say(`starting ${component.name} (${path.relative(repoRoot, component.entry)})`);
    const child = new SupervisedProcess(component, { ...childEnv, ...processCredentials(keys, component.name) });
    supervised.push(child);
    child.start();
    const isReady = async () => {
      if (child.failure) throw new InfraError(child.failure);
      return component.isReady();
    };
    try {
      await waitUntil(`${component.name} at ${component.endpoint}`, isReady, {
        timeoutMs: readyTimeoutMs,
        intervalMs: 250,
        signal: stopping.signal,
      });
    } catch (err) {
      if (stopping.signal.aborted) return;
      if (!child.failure) say(`${(err as Error).message}; see its output above`);
      exitCode = 1;
      await stopAll("startup failed");
      return;
    }
    say(`${component.name} ready at ${component.endpoint} after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  }
  printTable(supervised, absent, present, settings, childEnv);
}

main().catch((err: unknown) => {
  console.error(err instanceof InfraError ? `start: ${err.message}` : err);
  process.exit(1);
});
