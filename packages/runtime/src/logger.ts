import { type DestinationStream, type Logger, pino } from "pino";
import { currentContext } from "./request-context.js";

export type { Logger } from "pino";

/** Log levels, lowest volume first; `LOG_LEVEL` takes one. */
export const logLevels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** How long a log line may wait in the buffer before it is written. */
const flushIntervalMs = 200;

let stdout: DestinationStream | undefined;

/**
 * Standard output through one buffer per process: lines are written in blocks of 4 KiB or every
 * 200 ms, instead of a write per line, which at the gateway's request rate cost more than
 * formatting them. Whatever is buffered is written synchronously when the process exits.
 */
function bufferedStdout(): DestinationStream {
  if (!stdout) {
    const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
    setInterval(() => destination.flush(), flushIntervalMs).unref();
    stdout = destination;
  }
  return stdout;
}

/** `trace_id` and `span_id` of the work being logged, so log lines join their trace. */
function traceFields(): Record<string, string> {
  const traceparent = currentContext()?.traceparent;
  if (traceparent === undefined || traceparent.length !== 55) return {};
  return { trace_id: traceparent.slice(3, 35), span_id: traceparent.slice(36, 52) };
}

/** JSON logs on stdout, one logger per process, tagged with the service name. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info", destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
    },
    destination ?? bufferedStdout(),
  );
}
