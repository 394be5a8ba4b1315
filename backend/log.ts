/**
 * Structured JSON logs (pino). Secrets never reach a log line: request headers are not logged,
 * and the redaction list below blanks the fields a token or key could travel in, should any
 * code pass one by mistake.
 */
import pino, { type Logger } from "pino";

export const REDACTED_PATHS = [
  "token",
  "*.token",
  "tokenValue",
  "*.tokenValue",
  "authorization",
  "*.authorization",
  "headers.authorization",
  'headers["x-api-key"]',
  "apiKey",
  "*.apiKey",
  "key",
  "*.key",
  "password",
  "*.password",
  "databaseUrl",
];

export function createLogger(options: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      base: { service: "rstudio-pool" },
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
