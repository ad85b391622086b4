const describe = (value: unknown) => JSON.stringify(value, (_, v) => (typeof v === "bigint" ? String(v) : v));

/**
 * Polls `probe` until `accept` takes its value, or fails after `timeoutMs` with the last
 * value seen. Tests wait for conditions, never for fixed times.
 */
export async function waitFor<T>(
  probe: () => Promise<T> | T,
  accept: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 20, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${describe(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
