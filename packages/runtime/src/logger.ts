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

/**
 * Fields that carry secrets wherever they appear in a log line's first two levels: credentials
 * of calls, passwords and tokens in requests, keys, and connection URLs (whose password is cut
 * out, the rest kept for diagnosis).
 */
const secretKeys = ["authorization", "password", "newPassword", "accessToken", "token", "paymentToken", "signingKey", "privateKey"];
const urlKeys = ["databaseUrl", "natsUrl", "url", "connectionString"];
const everywhere = (keys: string[]) => keys.flatMap((key) => [key, `*.${key}`]);
export const redactedPaths = [
  ...everywhere(secretKeys),
  ...everywhere(urlKeys),
  "*.headers.authorization",
  "*.headers.cookie",
  "*.metadata.authorization",
  ...["USERS_TOKEN_SIGNING_KEY", "ADMIN_PASSWORD", "SERVICE_TOKEN"].map((name) => `*.${name}`),
];

/** Secrets become `[redacted]`; a URL keeps all but its password. */
function censor(value: unknown, path: string[]): unknown {
  if (urlKeys.includes(path.at(-1)!) && typeof value === "string") return value.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:[redacted]@");
  return "[redacted]";
}

/** JSON logs on stdout, one logger per process, tagged with the service name; secrets redacted. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info", destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: traceFields,
      redact: { paths: redactedPaths, censor },
    },
    destination ?? bufferedStdout(),
  );
}
