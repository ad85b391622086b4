/**
 * `npm test`: everything CI checks, in order, stopping at the first failure.
 * Extra arguments go to vitest (`npm test -- services/catalog`, `npm test -- --project unit`).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureTestCredentials } from "@shop/runtime/testing";
import pg from "pg";
import { NatsServer } from "../tests/support/nats-server.js";
import { generatedCodeProblems } from "./check-generated.js";
import { ensureChromium, ensureInfra, infraSettings, repoRoot } from "./infra.js";
import { lintContracts } from "./lint-contracts.js";

/** A test database this old with nobody connected belongs to a run that crashed before dropping it. */
const leftoverAfterMs = 30 * 60_000;

class StepFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const binDir = path.join(repoRoot, "node_modules", ".bin");

/** Runs a tool of this repository with the terminal as its output. */
function runTool(tool: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binDir, tool), args, {
      cwd: repoRoot,
      stdio: "inherit",
      env: { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH ?? ""}`, ...env },
    });
    child.once("error", (err) => reject(new StepFailure(`${tool} could not run: ${err.message}`)));
    child.once("exit", (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new StepFailure(
            `${tool} ${args[0] ?? ""} ${signal ? `was killed (${signal})` : `exited with code ${code}`}`.replace(/ +/g, " "),
            code || 1,
          ),
        );
    });
  });
}

async function checkGeneratedCode(): Promise<void> {
  const problems = await generatedCodeProblems();
  if (problems.length > 0) {
    throw new StepFailure(`generated code is stale: run npm run generate\n${problems.map((line) => `  ${line}`).join("\n")}`);
  }
}

/**
 * Drops `shop_test_*` databases left by crashed runs. Another run may be using some right now:
 * those are younger than `leftoverAfterMs` or have connections (a plain DROP refuses them).
 * The migrated `shop_tmpl_*` templates are kept on purpose.
 */
export async function dropLeftoverTestDatabases(): Promise<void> {
  const url = new URL((await infraSettings()).postgresUrl);
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const candidates = await client
      .query<{ datname: string; age_ms: number | null }>(
        `SELECT datname,
              EXTRACT(EPOCH FROM now() - (pg_stat_file('base/' || oid || '/PG_VERSION', true)).modification) * 1000 AS age_ms
         FROM pg_database
        WHERE datname LIKE 'shop\\_test\\_%' AND NOT datistemplate`,
      )
      .catch(() =>
        // Reading file times needs superuser or pg_read_server_files; without it, connections alone decide.
        client.query<{ datname: string; age_ms: number | null }>(
          `SELECT datname, NULL AS age_ms FROM pg_database WHERE datname LIKE 'shop\\_test\\_%' AND NOT datistemplate`,
        ),
      );
    let dropped = 0;
    let kept = 0;
    for (const { datname, age_ms } of candidates.rows) {
      if (age_ms !== null && Number(age_ms) < leftoverAfterMs) {
        kept += 1;
        continue;
      }
      try {
        await client.query(`DROP DATABASE "${datname.replace(/"/g, '""')}"`);
        dropped += 1;
      } catch (err) {
        // 55006: in use by a running test; 3D000: its run dropped it meanwhile.
        if (!["55006", "3D000"].includes((err as { code?: string }).code ?? "")) throw err;
        kept += 1;
      }
    }
    console.log(`dropped ${dropped} leftover test database(s)${kept > 0 ? `; kept ${kept} that may belong to a run in progress` : ""}`);
  } finally {
    await client.end();
  }
}

async function checkContracts(): Promise<void> {
  const report = await lintContracts(repoRoot);
  if (!report.ok) {
    throw new StepFailure(
      `contracts break the released baseline (run npm run lint:contracts):\n${[...report.lint, ...report.breaking, ...report.rest].map((l) => `  ${l}`).join("\n")}`,
    );
  }
}

/** Chromium for the browser tests; without one they are skipped, and the reason is printed here and by the tests. */
async function provideChromium(): Promise<void> {
  const chromium = await ensureChromium();
  console.log("path" in chromium ? `Chromium at ${chromium.path}` : `browser tests will be skipped: ${chromium.missing}`);
}

/**
 * The suite's own NATS server (free port, fresh store), so tests neither see the events of a
 * running `npm start` nor leave theirs in its streams, and every run starts from empty streams.
 */
let testNats: { server: NatsServer; dir: string } | undefined;
async function startTestNats(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), "shop-test-nats-"));
  testNats = { server: await NatsServer.start({ dir }), dir };
  process.env.NATS_URL = testNats.server.url;
  console.log(`NATS for this run: ${testNats.server.url} (store in ${dir})`);
}

/**
 * vitest with the caller's arguments, plus a JSON report from which a closing line
 * `vitest: N passed, N failed, N skipped` is printed (CI reads it; vitest's own summary differs).
 */
async function runVitest(args: string[]): Promise<void> {
  const reportFile = path.join(repoRoot, ".run", "vitest-report.json");
  mkdirSync(path.dirname(reportFile), { recursive: true });
  rmSync(reportFile, { force: true });
  const reporters = args.some((arg) => arg.startsWith("--reporter")) ? [] : ["--reporter=default"];
  const outcome = runTool("vitest", ["run", ...args, ...reporters, "--reporter=json", `--outputFile.json=${reportFile}`], {
    PACT_DO_NOT_TRACK: process.env.PACT_DO_NOT_TRACK ?? "true",
  });
  await outcome.catch(() => {});
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as Record<
      "numPassedTests" | "numFailedTests" | "numPendingTests" | "numTodoTests",
      number
    >;
    console.log(
      `\nvitest: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests + report.numTodoTests} skipped`,
    );
  }
  return outcome;
}

const steps: { name: string; run: () => Promise<void> }[] = [
  { name: "infrastructure (PostgreSQL, NATS JetStream)", run: () => ensureInfra() },
  { name: "Chromium for the browser tests", run: provideChromium },
  { name: "buf lint", run: () => runTool("buf", ["lint"]) },
  { name: "lint and format (Biome)", run: () => runTool("biome", ["ci", "--reporter=summary", "."]) },
  { name: "generated code matches proto/", run: checkGeneratedCode },
  { name: "contracts against the released baseline (buf breaking, REST surface)", run: checkContracts },
  { name: "type check", run: () => runTool("tsc", ["--noEmit", "-p", "."]).then(() => runTool("tsc", ["--noEmit", "-p", "console"])) },
  { name: "leftover test databases", run: dropLeftoverTestDatabases },
  { name: "NATS server for the test run", run: startTestNats },
  { name: "credentials for the test run", run: async () => ensureTestCredentials() },
  { name: "vitest", run: () => runVitest(process.argv.slice(2)) },
];

async function main(): Promise<number> {
  const startedAt = Date.now();
  console.log(`npm test on Node.js ${process.version} (${process.execPath})`);
  for (const [index, step] of steps.entries()) {
    const stepStartedAt = Date.now();
    console.log(`\n==> [${index + 1}/${steps.length}] ${step.name}`);
    try {
      await step.run();
    } catch (err) {
      console.error(`\n==> FAILED at step ${index + 1}/${steps.length} (${step.name}): ${(err as Error).message}`);
      return err instanceof StepFailure ? err.exitCode : 1;
    }
    console.log(`==> ${step.name}: ok (${((Date.now() - stepStartedAt) / 1000).toFixed(1)} s)`);
  }
  console.log(`\n==> all ${steps.length} steps passed in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main()
    .finally(async () => {
      if (!testNats) return;
      await testNats.server.stop();
      rmSync(testNats.dir, { recursive: true, force: true });
    })
    .then((code) => process.exit(code));
}
