/**
 * Enrollment: trade the bootstrap token for MQTT credentials at the cloud.
 * @module
 */
import { EnrollPending, EnrollResponse } from "@outpost/protocol";

/** Options of {@link enroll}. */
export interface EnrollOptions {
  cloudUrl: string;
  /** The enrollment token; not needed to re-enroll with the right device secret. */
  token?: string;
  deviceId: string;
  /** The device's identity (see `identity.ts`). */
  deviceSecret?: string;
  labels?: Record<string, string>;
  arch?: string;
  version?: string;
  /** The device's acked seq, so a cloud that lost its data can resume from it. */
  ackedSeq?: number;
  timeoutMs?: number;
}

/** Enrollment failed; `permanent` when retrying the same request cannot help soon. */
export class EnrollError extends Error {
  readonly permanent: boolean;
  /** The cloud's error code (`device_revoked`, `unauthorized`, …), when it gave one. */
  readonly code?: string;
  constructor(message: string, permanent: boolean, code?: string) {
    super(message);
    this.name = "EnrollError";
    this.permanent = permanent;
    this.code = code;
  }
}

/**
 * The cloud holds the request for an operator: this device id is enrolled and the cloud does
 * not know this device secret (the data dir was wiped, or someone else has the id). Retrying
 * the same request learns the outcome.
 */
export class EnrollPendingError extends EnrollError {
  readonly requestId: string;
  constructor(pending: EnrollPending, url: string) {
    super(`Enrollment at ${url} waits for an operator's approval: ${pending.message}`, false);
    this.name = "EnrollPendingError";
    this.requestId = pending.requestId;
  }
}

/** Calls `POST <cloudUrl>/api/v1/enroll`. */
export async function enroll(options: EnrollOptions): Promise<EnrollResponse> {
  const url = `${options.cloudUrl}/api/v1/enroll`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        deviceId: options.deviceId,
        ...(options.token ? { token: options.token } : {}),
        ...(options.deviceSecret ? { deviceSecret: options.deviceSecret } : {}),
        ...(options.labels ? { labels: options.labels } : {}),
        ...(options.arch ? { arch: options.arch } : {}),
        ...(options.version ? { version: options.version } : {}),
        ...(options.ackedSeq !== undefined ? { ackedSeq: options.ackedSeq } : {}),
      }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new EnrollError(`Cannot reach ${url}: ${(error as Error).message}`, false);
  }
  const text = await response.text();
  if (response.status === 202) {
    const pending = EnrollPending.safeParse(safeJson(text));
    if (pending.success) throw new EnrollPendingError(pending.data, url);
  }
  if (!response.ok) {
    let detail = text.slice(0, 200);
    let code: string | undefined;
    try {
      const envelope = JSON.parse(text).error;
      detail = envelope.message;
      code = typeof envelope.code === "string" ? envelope.code : undefined;
    } catch {
      // not our envelope; keep the raw start of the body
    }
    // Refusals that the same request will meet again until someone acts (a token, an
    // operator reinstating the device, a fix of this request).
    const permanent = [401, 403, 409, 422].includes(response.status) &&
      code !== "enrollment_conflict";
    throw new EnrollError(
      `Enrollment at ${url} refused (${response.status}${code ? ` ${code}` : ""}): ${detail}`,
      permanent,
      code,
    );
  }
  try {
    return EnrollResponse.parse(JSON.parse(text));
  } catch (error) {
    throw new EnrollError(
      `Enrollment at ${url} answered an unexpected body: ${(error as Error).message.slice(0, 200)}`,
      false,
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
