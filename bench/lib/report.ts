import net from "node:net";
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

/**
 * Round trips of one byte over a loopback TCP connection within this process: the kernel's
 * share of every call between the stack's processes, which moves with the host even when the
 * reference loop does not.
 */
async function loopbackRoundTripMicros(roundTrips = 2_000): Promise<number> {
  const server = net.createServer((socket) => socket.on("data", (data) => socket.write(data)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
  client.setNoDelay(true);
  await new Promise<void>((resolve) => client.once("connect", resolve));
  const start = performance.now();
  for (let i = 0; i < roundTrips; i++) {
    await new Promise((resolve) => {
      client.once("data", resolve);
      client.write("x");
    });
  }
  const micros = ((performance.now() - start) * 1000) / roundTrips;
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
  return micros;
}

/** Where the figures came from: other work on a small shared machine, or the host, moves them a lot. */
export async function describeMachine(): Promise<string> {
  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  const loopback = await loopbackRoundTripMicros();
  return `node ${process.version}, ${cpus.length} x ${cpus[0]?.model.trim() ?? "unknown cpu"}, load average ${load}, reference loop ${referenceLoopMs().toFixed(0)} ms, loopback round trip ${loopback.toFixed(1)} us`;
}
