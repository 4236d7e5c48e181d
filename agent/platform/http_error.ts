/**
 * The one error type of our HTTP layers and the JSON envelope it maps to:
 * `{"error":{"code","message","details"?}}`.
 * @module
 */

/** One problem with one field of a request. */
export interface ErrorDetail {
  /** The field's path, `.`-joined (`0.value`, `data.x`), or `(body)` for the whole input. */
  field: string;
  /** What is wrong, in words, with the limit and what was received where that helps. */
  message: string;
  /**
   * The rule broken, for programs: `required`, `type`, `format`, `pattern`, `enum`,
   * `unknown_field`, `min_length`, `max_length`, `min_items`, `max_items`, `minimum`,
   * `maximum`, `control_character`, `time_window`, or a route's own.
   */
  rule?: string;
  /** The rule's limit (a number, a list or words), when it has one. */
  limit?: unknown;
}

/** The JSON error envelope every error response uses. */
export interface ErrorEnvelope {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

/** An error that becomes an HTTP response with the JSON envelope. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: ErrorDetail[];

  constructor(status: number, code: string, message: string, details?: ErrorDetail[]) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** The envelope body of this error. */
  toEnvelope(): ErrorEnvelope {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

/** True when an error (or its cause) is SQLite reporting a full disk or database. */
export function isDiskFullError(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 5; depth++) {
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (code === "SQLITE_FULL" || (typeof code === "string" && code.startsWith("SQLITE_FULL"))) {
      return true;
    }
    if (typeof message === "string" && /database or disk is full/i.test(message)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Maps an unknown thrown value to an {@link HttpError}. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isDiskFullError(error)) {
    return new HttpError(
      507,
      "disk_full",
      "Cannot store the write: the device's disk is full. Nothing already stored was lost; free space or lower retention and retry.",
    );
  }
  return new HttpError(500, "internal", "Internal error; see the server log");
}
