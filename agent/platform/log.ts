/**
 * Structured JSON logging: one line per event with `ts`, `level`, `msg` and fields.
 * Fields whose names look secret are redacted so tokens never reach a log.
 * @module
 */

/** Log levels in increasing severity. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** True when `value` is one of {@link LOG_LEVELS}. */
export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line and shares this logger's level. */
  child(fields: LogFields): Logger;
  setLevel(level: LogLevel): void;
  getLevel(): LogLevel;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stderr. */
  write?: (line: string) => void;
  fields?: LogFields;
  /**
   * Fields of the moment, added to every line: the active span's `trace_id`/`span_id` when
   * tracing is on (see `trace.ts`). Explicit fields win over them.
   */
  context?: () => LogFields | undefined;
}

const SECRET_FIELD = /token|password|passwd|secret|authorization|cookie|credential/i;
const encoder = new TextEncoder();

function writeStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Replaces values of secret-looking keys, recursively, and renders errors readably. */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_FIELD.test(key) && inner !== undefined && inner !== null
      ? "[redacted]"
      : redact(inner, depth + 1);
  }
  return out;
}

/** Creates a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const state: LoggerState = { level: options.level ?? "info", context: options.context };
  const write = options.write ?? writeStderr;
  return makeLogger(state, write, options.fields ?? {});
}

interface LoggerState {
  level: LogLevel;
  context?: () => LogFields | undefined;
}

function makeLogger(
  state: LoggerState,
  write: (line: string) => void,
  base: LogFields,
): Logger {
  function emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(state.level)) return;
    const record = redact({ ...state.context?.(), ...base, ...fields }) as LogFields;
    write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...record }));
  }
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    child: (fields) => makeLogger(state, write, { ...base, ...fields }),
    setLevel: (level) => {
      state.level = level;
    },
    getLevel: () => state.level,
  };
}
