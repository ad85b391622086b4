import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { promisify } from "node:util";

const run = promisify(execFile);
const bufBin = createRequire(import.meta.url).resolve("@bufbuild/buf/bin/buf");

/** Runs the repository's pinned buf in `cwd`; resolves with its exit code and output instead of throwing. */
export async function buf(cwd: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bufBin, ...args], { cwd, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

export const baselineImage = "contracts/baseline/shop.binpb";
