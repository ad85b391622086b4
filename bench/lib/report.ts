import os from "node:os";

const looksNumeric = (cell: string | number) => typeof cell === "number" || /^-?\d[\d., ]*x?$/.test(cell);

/** Renders rows as a plain-text table with aligned columns (figures right-aligned). */
export function formatTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => row[column]?.length ?? 0)));
  const numeric = header.map((_, column) => rows.length > 0 && rows.every((row) => looksNumeric(row[column] ?? "")));
  const render = (row: string[]) =>
    row
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join("  ")
      .trimEnd();
  return [render(cells[0]!), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(render)].join("\n");
}

/** `a / b` as `2.31x`. */
export const formatRatio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

export const formatMs = (ms: number): string => ms.toFixed(ms < 10 ? 2 : 1);

// Fixed CPU work whose duration shows how much of a core this process got just now.
function referenceLoopMs(): number {
  const start = performance.now();
  let sum = 0;
  for (let i = 0; i < 20_000_000; i++) sum = (sum + i) % 1_000_003;
  if (sum < 0) throw new Error("unreachable");
  return performance.now() - start;
}

/** Where the figures came from: other work on a small shared machine moves them a lot. */
export function describeMachine(): string {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  return `node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? "unknown cpu"}, load average ${load}, reference loop ${referenceLoopMs().toFixed(0)} ms`;
}
