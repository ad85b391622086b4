/**
 * What the system needs around it: PostgreSQL and NATS with JetStream. Uses them when they
 * run; otherwise starts them from installed binaries (Debian's cluster, else a cluster of its
 * own in `.run/postgres`; `nats-server` in the background with its data in `.run/nats`);
 * otherwise says exactly how to get them. Also the readiness probes that `npm start` and the
 * container health checks use.
 *
 *   node --import tsx scripts/infra.ts            # make PostgreSQL and NATS available
 *   node --import tsx scripts/infra.ts browser    # make Chromium available for the browser tests
 *   node --import tsx scripts/infra.ts stop       # stop what this script started in .run/
 *   node --import tsx scripts/infra.ts probe 127.0.0.1:50052 | http://127.0.0.1:8080/healthz
 */
import { execFile, spawn } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  Health,
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
} from "@shop/contracts/grpc/health/v1/health_pb.js";
import { defaultNatsUrl } from "@shop/runtime";
import { connect as connectNats, type NatsConnection } from "nats";
import pg from "pg";

const run = promisify(execFile);

export const repoRoot = path.resolve(import.meta.dirname, "..");

const installHint =
  "Install them with `apt-get install -y postgresql nats-server`, or run them in containers with `docker compose up -d postgres nats`.";

/** A problem this script cannot fix by itself; the message says what to do. */
export class InfraError extends Error {
  override name = "InfraError";
}

export interface InfraSettings {
  /** Server URL (no database) of PostgreSQL; the superuser is its user name. */
  postgresUrl: string;
  natsUrl: string;
  /** Where locally started servers keep their data, logs and pid files. */
  runDir: string;
  /** How long a server may take to become ready. */
  readyTimeoutMs: number;
}

/**
 * Settings from the environment, with the runtime's defaults. The runtime is loaded only here:
 * it takes about a second of CPU to load, too much for `probe`, which container health checks run often.
 */
export async function infraSettings(source: NodeJS.ProcessEnv = process.env): Promise<InfraSettings> {
  const { defaultPostgresUrl } = await import("@shop/runtime");
  return {
    postgresUrl: source.POSTGRES_URL ?? defaultPostgresUrl,
    natsUrl: source.NATS_URL ?? defaultNatsUrl,
    runDir: path.join(repoRoot, ".run"),
    readyTimeoutMs: 30_000,
  };
}

/** Calls `check` until it returns true; fails with `what` when `timeoutMs` passes. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    if (await check()) return;
    if (Date.now() >= deadline) throw new InfraError(`${what}: not ready after ${Math.round(options.timeoutMs / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 200));
  }
}

const isLoopback = (hostname: string) => ["127.0.0.1", "localhost", "::1", "[::1]"].includes(hostname);

/** Finds an executable on PATH, then in Debian's PostgreSQL and sbin folders (newest version first). */
export function findBinary(name: string, pathVariable = process.env.PATH ?? ""): string | undefined {
  const versioned = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql")
        .filter((version) => /^\d+$/.test(version))
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => `/usr/lib/postgresql/${version}/bin`)
    : [];
  const folders = [...pathVariable.split(path.delimiter).filter(Boolean), ...versioned, "/usr/sbin", "/usr/local/sbin"];
  return folders.map((folder) => path.join(folder, name)).find((candidate) => existsSync(candidate));
}

function requireBinary(name: string, what: string): string {
  const binary = findBinary(name);
  if (!binary) {
    throw new InfraError(
      `${what} is not running and \`${name}\` is not installed (looked on PATH, /usr/lib/postgresql/*/bin, /usr/sbin). ${installHint}`,
    );
  }
  return binary;
}

function postgresAdminUrl(postgresUrl: string): string {
  const url = new URL(postgresUrl);
  url.pathname = "/postgres";
  return url.toString();
}

// Reasons a connection fails while a server is not (yet) there; anything else is a refusal to report.
const notThereYet = new Set(["ECONNREFUSED", "ECONNRESET", "ENOENT", "ETIMEDOUT", "EHOSTUNREACH", "57P03"]);

/** True when PostgreSQL accepts a login; false while nothing (ready) listens; throws when it refuses us. */
export async function postgresIsReady(postgresUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresAdminUrl(postgresUrl), connectionTimeoutMillis: 2_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch (err) {
    const { code, message } = err as { code?: string; message: string };
    if ((code && notThereYet.has(code)) || /timeout|terminated unexpectedly/i.test(message)) return false;
    throw new InfraError(
      `PostgreSQL at ${new URL(postgresUrl).host} refused the connection: ${message}. Let the user of POSTGRES_URL in (e.g. \`trust\` for local connections in pg_hba.conf), or put a password in POSTGRES_URL.`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

interface DebianCluster {
  version: string;
  name: string;
  port: number;
}

async function debianClusters(): Promise<DebianCluster[]> {
  const lsclusters = findBinary("pg_lsclusters");
  if (!lsclusters) return [];
  const { stdout } = await run(lsclusters, ["--no-header"]);
  return stdout
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((columns) => columns.length >= 3 && /^\d+$/.test(columns[2]!))
    .map(([version, name, port]) => ({ version: version!, name: name!, port: Number(port) }));
}

/** initdb and postgres refuse to run as root; as root, run them as the `postgres` system user. */
function postgresSystemUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const entry = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[0] === "postgres");
  if (!entry)
    throw new InfraError(
      "initdb cannot run as root and there is no `postgres` system user; run as a normal user or install the postgresql package.",
    );
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

async function runAs(user: { uid: number; gid: number } | undefined, command: string, args: string[]): Promise<void> {
  try {
    await run(command, args, user ? { uid: user.uid, gid: user.gid, env: { ...process.env, HOME: "/tmp" } } : {});
  } catch (err) {
    const { stderr, stdout, message } = err as { stderr?: string; stdout?: string; message: string };
    const reason = (stderr || stdout || message).trim();
    const hint =
      user && /permission denied/i.test(reason) ? " (it runs as the `postgres` system user, which must be able to reach that folder)" : "";
    throw new InfraError(`${path.basename(command)} failed: ${reason}${hint}`);
  }
}

/** Paths inside the repository are shown relative to it. */
const shown = (file: string) => (file.startsWith(repoRoot + path.sep) ? path.relative(repoRoot, file) : file);

/** Data folder of the cluster this script creates when the machine has none to start. */
const localPostgresDir = (settings: InfraSettings) => path.join(settings.runDir, "postgres");

async function startDebianCluster(port: number): Promise<boolean> {
  const cluster = (await debianClusters()).find((candidate) => candidate.port === port);
  const ctlcluster = findBinary("pg_ctlcluster");
  if (!cluster || !ctlcluster) return false;
  console.log(`infra: starting PostgreSQL cluster ${cluster.version}/${cluster.name} (pg_ctlcluster)`);
  try {
    await run(ctlcluster, [cluster.version, cluster.name, "start"]);
    return true;
  } catch (err) {
    console.log(`infra: pg_ctlcluster failed (${((err as { stderr?: string }).stderr ?? "").trim()}); using a cluster of our own instead`);
    return false;
  }
}

async function startLocalCluster(settings: InfraSettings, url: URL): Promise<void> {
  const initdb = requireBinary("initdb", `PostgreSQL on ${url.host}`);
  const pgCtl = requireBinary("pg_ctl", `PostgreSQL on ${url.host}`);
  const dataDir = localPostgresDir(settings);
  const logFile = path.join(settings.runDir, "postgres.log");
  const user = postgresSystemUser();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  closeSync(openSync(logFile, "a"));
  if (user) {
    chownSync(dataDir, user.uid, user.gid);
    chownSync(logFile, user.uid, user.gid);
  }
  if (!existsSync(path.join(dataDir, "PG_VERSION"))) {
    console.log(`infra: creating a PostgreSQL cluster in ${shown(dataDir)}`);
    await runAs(user, initdb, ["-D", dataDir, "-U", decodeURIComponent(url.username || "postgres"), "--auth=trust", "--encoding=UTF8"]);
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const serverOptions = `-p ${url.port || "5432"} -c listen_addresses=${host === "localhost" ? "127.0.0.1" : host} -k '${dataDir}'`;
  console.log(`infra: starting PostgreSQL on ${url.host} (logs in ${shown(logFile)})`);
  await runAs(user, pgCtl, ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-w", "start"]);
}

/** Uses the PostgreSQL at `postgresUrl`, or starts one on its port. Returns what it did. */
export async function ensurePostgres(settings: InfraSettings): Promise<"running" | "started"> {
  if (await postgresIsReady(settings.postgresUrl)) return "running";
  const url = new URL(settings.postgresUrl);
  if (!isLoopback(url.hostname)) {
    throw new InfraError(`PostgreSQL at ${url.host} is not reachable, and it is not on this machine, so it cannot be started here.`);
  }
  const port = Number(url.port || 5432);
  if (!(await startDebianCluster(port))) await startLocalCluster(settings, url);
  await waitUntil(`PostgreSQL on ${url.host}`, () => postgresIsReady(settings.postgresUrl), { timeoutMs: settings.readyTimeoutMs });
  return "started";
}

export type NatsState = "ready" | "down" | "no-jetstream";

/** Connects, and proves JetStream is on by asking for the account's JetStream info. */
export async function natsState(natsUrl: string): Promise<NatsState> {
  let connection: NatsConnection;
  try {
    connection = await connectNats({ servers: natsUrl.split(","), timeout: 2_000, reconnect: false });
  } catch {
    return "down";
  }
  try {
    const manager = await connection.jetstreamManager({ checkAPI: false });
    await manager.getAccountInfo();
    return "ready";
  } catch {
    return "no-jetstream";
  } finally {
    await connection.close();
  }
}

const natsPidFile = (settings: InfraSettings) => path.join(settings.runDir, "nats.pid");

/** Uses the NATS at `natsUrl`, or starts `nats-server -js` on its port in the background. */
export async function ensureNats(settings: InfraSettings): Promise<"running" | "started"> {
  const state = await natsState(settings.natsUrl);
  if (state === "ready") return "running";
  if (state === "no-jetstream") {
    throw new InfraError(`NATS at ${settings.natsUrl} runs without JetStream; restart it with \`-js\` (e.g. \`nats-server -js\`).`);
  }
  const url = new URL(settings.natsUrl.split(",")[0]!);
  if (!isLoopback(url.hostname)) {
    throw new InfraError(`NATS at ${url.host} is not reachable, and it is not on this machine, so it cannot be started here.`);
  }
  const natsServer = requireBinary("nats-server", `NATS on ${url.host}`);
  const storeDir = path.join(settings.runDir, "nats");
  const logFile = path.join(settings.runDir, "nats.log");
  mkdirSync(storeDir, { recursive: true });
  const log = openSync(logFile, "a");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const args = [
    "-js",
    "-a",
    host === "localhost" ? "127.0.0.1" : host,
    "-p",
    url.port || "4222",
    "-sd",
    storeDir,
    "-P",
    natsPidFile(settings),
  ];
  console.log(`infra: starting ${path.basename(natsServer)} ${args.join(" ")} (logs in ${shown(logFile)})`);
  const child = spawn(natsServer, args, { detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `nats-server exited (${signal ?? `code ${code}`}); see ${shown(logFile)}`));
  child.unref();
  await waitUntil(
    `NATS on ${url.host}`,
    async () => {
      if (exited) throw new InfraError(exited);
      return (await natsState(settings.natsUrl)) === "ready";
    },
    { timeoutMs: settings.readyTimeoutMs },
  );
  return "started";
}

/** PostgreSQL and NATS, each used when running and started otherwise. */
export async function ensureInfra(settings?: InfraSettings): Promise<void> {
  settings ??= await infraSettings();
  const postgres = await ensurePostgres(settings);
  console.log(`infra: PostgreSQL ${postgres} at ${new URL(settings.postgresUrl).host}`);
  const nats = await ensureNats(settings);
  console.log(`infra: NATS with JetStream ${nats} at ${settings.natsUrl}`);
}

/** Where the browser tests find Chromium: `CHROMIUM_PATH`, else Debian's package. */
export const chromiumPath = (source: NodeJS.ProcessEnv = process.env) => source.CHROMIUM_PATH || "/usr/bin/chromium";

/**
 * Chromium for the browser tests: the one at `chromiumPath()`, else Debian's `chromium` package
 * installed with apt-get when this runs as root on a machine that has it. Returns the path, or
 * why there is none (the browser tests are then skipped with that reason).
 */
export async function ensureChromium(source: NodeJS.ProcessEnv = process.env): Promise<{ path: string } | { missing: string }> {
  const browser = chromiumPath(source);
  if (existsSync(browser)) return { path: browser };
  const aptGet = findBinary("apt-get");
  if (!aptGet || process.getuid?.() !== 0 || source.CHROMIUM_PATH) {
    return { missing: `no Chromium at ${browser}; install it (\`apt-get install -y chromium\`) or set CHROMIUM_PATH` };
  }
  console.log("infra: installing Chromium (apt-get install -y chromium) for the browser tests");
  const install = () =>
    run(aptGet, ["install", "-y", "--no-install-recommends", "chromium"], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  try {
    await install().catch(async () => {
      // A machine whose package lists were never fetched knows no chromium yet.
      await run(aptGet, ["update"]);
      await install();
    });
  } catch (err) {
    const { stderr, message } = err as { stderr?: string; message: string };
    return { missing: `apt-get could not install chromium: ${(stderr || message).trim().split("\n").at(-1)}` };
  }
  return existsSync(browser) ? { path: browser } : { missing: `apt-get installed chromium, but ${browser} is not there` };
}

/** Stops the servers this script started under `runDir`; never touches others. */
export async function stopLocalInfra(settings?: InfraSettings): Promise<void> {
  settings ??= await infraSettings();
  const dataDir = localPostgresDir(settings);
  if (existsSync(path.join(dataDir, "postmaster.pid"))) {
    console.log(`infra: stopping PostgreSQL in ${dataDir}`);
    await runAs(postgresSystemUser(), requireBinary("pg_ctl", "PostgreSQL"), ["-D", dataDir, "-m", "fast", "-w", "stop"]);
  }
  const pidFile = natsPidFile(settings);
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    if (alive()) {
      console.log(`infra: stopping nats-server (pid ${pid})`);
      process.kill(pid, "SIGTERM");
      await waitUntil(`nats-server (pid ${pid}) to exit`, async () => !alive(), { timeoutMs: settings.readyTimeoutMs });
    }
  }
}

const healthCheckPath = `/${Health.typeName}/${Health.method.check.name}`;

/** True when the gRPC server at `address` answers grpc.health.v1.Health/Check with SERVING. */
export function grpcServing(address: string, timeoutMs = 1_000): Promise<boolean> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  return new Promise<boolean>((resolve) => {
    client.makeUnaryRequest(
      healthCheckPath,
      (request: HealthCheckRequest) => Buffer.from(toBinary(HealthCheckRequestSchema, request)),
      (bytes: Buffer) => fromBinary(HealthCheckResponseSchema, bytes),
      create(HealthCheckRequestSchema, { service: "" }), // the server as a whole
      { deadline: Date.now() + timeoutMs },
      (err, response) => {
        client.close();
        resolve(!err && response?.status === HealthCheckResponse_ServingStatus.SERVING);
      },
    );
  });
}

/** True when `url` answers a GET with a 2xx status. */
export async function httpOk(url: string, timeoutMs = 1_000): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

async function main(args: string[]): Promise<number> {
  const [command = "up", target] = args;
  if (command === "up") await ensureInfra();
  else if (command === "stop") await stopLocalInfra();
  else if (command === "browser") {
    const chromium = await ensureChromium();
    console.log("path" in chromium ? `infra: Chromium at ${chromium.path}` : `infra: ${chromium.missing}`);
    return "path" in chromium ? 0 : 1;
  } else if (command === "probe" && target) {
    const ok = /^https?:\/\//.test(target) ? await httpOk(target, 3_000) : await grpcServing(target, 3_000);
    console.log(`${target}: ${ok ? "healthy" : "not healthy"}`);
    return ok ? 0 : 1;
  } else {
    console.error("usage: infra.ts [up | browser | stop | probe <host:port | http(s)://url>]");
    return 2;
  }
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof InfraError ? `infra: ${err.message}` : err);
      process.exit(1);
    },
  );
}
