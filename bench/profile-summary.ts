/**
 * Reads a V8 CPU profile (`node --cpu-prof`, or a benchmark run with `BENCH_CPU_PROFILE`) and
 * prints where the time went: self time by package (a dependency, Node's internals, the project's
 * own code, the garbage collector) and the functions with the most self and total time.
 *
 *   node --import tsx bench/profile-summary.ts bench/.profiles/gateway-1234.cpuprofile
 *   BENCH_PROFILE_TOP=60 node --import tsx bench/profile-summary.ts <file>...
 */
import { readFileSync } from "node:fs";
import { env, loadConfig } from "@shop/runtime";
import { formatTable } from "./lib/report.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Which package a frame belongs to: `pg`, `@grpc/grpc-js`, `node:http`, `project: gateway/src/...`, `(gc)`. */
function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native)";
  if (url.startsWith("node:"))
    return url
      .split("/")
      .slice(0, 2)
      .join("/")
      .replace(/^node:internal\/?/, "node:internal/");
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) {
    const rest = url.slice(modules + "/node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const project = url.replace(/^file:\/\//, "").replace(/^.*?\/(packages|services|gateway|bench|tests|scripts)\//, "$1/");
  return `project: ${project.split("/").slice(0, 3).join("/")}`;
}

const frameKey = (frame: CallFrame) =>
  `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\/node_modules\//, "")}:${frame.lineNumber + 1}`;

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  // Self time per node from the samples and the time between them.
  const selfMicros = new Map<number, number>();
  for (const [index, id] of profile.samples.entries()) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  const totalMicros = profile.endTime - profile.startTime;
  const idleMicros = [...selfMicros]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)")
    .reduce((sum, [, us]) => sum + us, 0);
  const busyMicros = totalMicros - idleMicros;

  const byPackage = new Map<string, number>();
  const selfByFrame = new Map<string, number>();
  const totalByFrame = new Map<string, number>();
  for (const [id, micros] of selfMicros) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") continue;
    byPackage.set(packageOf(node.callFrame), (byPackage.get(packageOf(node.callFrame)) ?? 0) + micros);
    selfByFrame.set(frameKey(node.callFrame), (selfByFrame.get(frameKey(node.callFrame)) ?? 0) + micros);
    // Total time: each frame on the stack once, however often it recurses.
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parentOf.get(current)) {
      const key = frameKey(byId.get(current)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      totalByFrame.set(key, (totalByFrame.get(key) ?? 0) + micros);
    }
  }
  const share = (micros: number) => `${((100 * micros) / busyMicros).toFixed(1)}%`;
  const ms = (micros: number) => (micros / 1000).toFixed(0);
  const rows = (map: Map<string, number>, limit: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, micros]) => [name, ms(micros), share(micros)]);

  console.log(`${file}: ${ms(totalMicros)} ms profiled, ${ms(busyMicros)} ms busy (${share(busyMicros)} of busy is 100%)\n`);
  console.log(formatTable(["self time by package", "ms", "of busy"], rows(byPackage, top)));
  console.log();
  console.log(formatTable(["self time by function", "ms", "of busy"], rows(selfByFrame, top)));
  console.log();
  const framesOnly = new Map([...totalByFrame].filter(([key]) => !key.startsWith("(root)") && !key.startsWith("(program)")));
  console.log(formatTable(["total time by function (with callees)", "ms", "of busy"], rows(framesOnly, top)));
  console.log();
}

const { BENCH_PROFILE_TOP: top } = loadConfig({ BENCH_PROFILE_TOP: env.int(30, { min: 1 }) });
const files = process.argv.slice(2);
if (files.length === 0) {
  process.stderr.write("usage: node --import tsx bench/profile-summary.ts <file.cpuprofile>...\n");
  process.exit(2);
}
for (const file of files) summarize(file, top);
