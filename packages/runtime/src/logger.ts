import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/** JSON logs on stdout, one logger per process, tagged with the service name. */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
