/**
 * The keeper's logger: pino, JSON lines on stdout by default, human lines through pino-pretty on
 * request, and an in-memory variant whose entries tests can read.
 *
 * Log fields may hold bigints (prices, sizes, position ids): they are written as decimal strings,
 * which every JSON reader takes exactly (a 1e24 WAD as a JSON number would come back as a float).
 * A private key is redacted wherever it appears as a field.
 */
import pino from "pino";
import type { DestinationStream, Level, Logger } from "pino";
import pinoPretty from "pino-pretty";

export type { Logger } from "pino";

export interface LoggerOptions {
  /** Human-readable lines instead of JSON. */
  pretty?: boolean;
  level?: Level | "silent";
  /** Where lines go (pretty or not); stdout unless given. */
  destination?: DestinationStream;
}

const REDACTED_PATHS = ["privateKey", "*.privateKey", "config.privateKey"];

function pinoOptions(level: LoggerOptions["level"]): pino.LoggerOptions {
  return {
    name: "keeper",
    level: level ?? "info",
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    // Errors logged under either key keep their message, stack and code.
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    formatters: { log: (fields) => bigintsToStrings(fields) as Record<string, unknown> },
  };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.pretty
    ? pinoPretty({
        destination: options.destination ?? 1,
        colorize: options.destination === undefined && process.stdout.isTTY,
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname,name",
      })
    : (options.destination ?? pino.destination(1));
  return pino(pinoOptions(options.level), destination);
}

/** A logger that writes nothing. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}

/** One parsed log line. */
export type LogEntry = { level: number; msg?: string } & Record<string, unknown>;

export interface MemoryLogger {
  log: Logger;
  /** Every line written so far, parsed. */
  entries(): LogEntry[];
}

/** A logger that keeps its JSON lines in memory (level "debug" unless given). */
export function createMemoryLogger(level: Level = "debug"): MemoryLogger {
  const lines: string[] = [];
  const log = pino(pinoOptions(level), { write: (line: string) => void lines.push(line) });
  return { log, entries: () => lines.map((line) => JSON.parse(line) as LogEntry) };
}

/** pino's numeric levels, for reading entries. */
export const LOG_LEVELS = pino.levels.values;

function bigintsToStrings(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(bigintsToStrings);
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, bigintsToStrings(field)]));
  }
  return value;
}
