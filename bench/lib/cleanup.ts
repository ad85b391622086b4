/**
 * What a benchmark must release (processes, databases, folders), released in reverse order of
 * acquisition, once: at the normal end, or on SIGINT/SIGTERM, which would otherwise leave
 * databases and temporary folders behind.
 */
export class Cleanup {
  private readonly steps: { what: string; release: () => Promise<unknown> }[] = [];
  private running?: Promise<void>;

  constructor() {
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`${signal}: cleaning up\n`);
      void this.run().finally(() => process.exit(130));
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  }

  add(what: string, release: () => Promise<unknown>): void {
    this.steps.push({ what, release });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { what, release } of this.steps.reverse()) {
        await release().catch((err: unknown) => process.stderr.write(`cleaning up ${what} failed: ${String(err)}\n`));
      }
    })();
    return this.running;
  }
}
