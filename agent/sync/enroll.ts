/**
 * Enrollment: trade the bootstrap token for MQTT credentials at the cloud.
 * @module
 */
import { EnrollResponse } from "@outpost/protocol";

/** Options of {@link enroll}. */
export interface EnrollOptions {
  cloudUrl: string;
  token: string;
  deviceId: string;
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
  constructor(message: string, permanent: boolean) {
    super(message);
    this.name = "EnrollError";
    this.permanent = permanent;
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
        token: options.token,
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
  if (!response.ok) {
    let detail = text.slice(0, 200);
    try {
      detail = JSON.parse(text).error.message;
    } catch {
      // not our envelope; keep the raw start of the body
    }
    const permanent = response.status === 401 || response.status === 403 ||
      response.status === 422;
    throw new EnrollError(
      `Enrollment at ${url} refused (${response.status}): ${detail}`,
      permanent,
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
