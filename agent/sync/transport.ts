/**
 * Transport rules of the agent's broker connection: the password travels only over TLS (or
 * to this machine), and connection errors are explained in words an operator can act on.
 * @module
 */

/** True for `localhost`, `*.localhost`, 127.0.0.0/8 and `::1`: traffic that stays on this host. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (host === "::1" || host === "0:0:0:0:0:0:0:1") return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Why the password must not be sent to `url`, or undefined when it may: over `mqtt://` or
 * `ws://` anyone on the path reads it, so plaintext is allowed to a loopback host only.
 */
export function plaintextPasswordRefusal(
  url: string,
  options: { allowed?: boolean } = {},
): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `Refusing to connect: the MQTT URL '${url}' is not a valid URL`;
  }
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "ws:") return undefined;
  if (isLoopbackHost(parsed.hostname)) return undefined;
  // OUTPOST_MQTT_ALLOW_PLAINTEXT: the operator vouches for the network (e.g. one dev cluster).
  if (options.allowed) return undefined;
  const secure = parsed.protocol === "mqtt:" ? "mqtts://" : "wss://";
  return `Refusing to send the MQTT password in plaintext to ${parsed.protocol}//${parsed.host}: ` +
    `use ${secure} (the cloud's OUTPOST_MQTT_PUBLIC_URL or this agent's OUTPOST_MQTT_URL); ` +
    `plaintext is allowed only to a loopback host`;
}

/** A broker URL without user name and password, for logs and the sync status. */
export function redactBrokerUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
}

/** Node TLS error codes that mean "the broker's certificate is not acceptable". */
const CERTIFICATE_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Where the agent connected, to explain an error. */
export interface ConnectionContext {
  url: string;
  /** OUTPOST_MQTT_CA, if set. */
  caPath?: string;
}

/**
 * One line for `lastError` and the log: certificate problems say which certificate check failed
 * and what to look at; everything else is the client's message.
 */
export function describeConnectionError(
  error: Error & { code?: unknown },
  context: ConnectionContext,
): string {
  const code = typeof error.code === "string" ? error.code : undefined;
  const certificate = code !== undefined &&
    (CERTIFICATE_CODES.has(code) || /CERT/.test(code));
  if (!certificate && !/certificate/i.test(error.message)) {
    return `MQTT error: ${error.message}`;
  }
  const trust = context.caPath
    ? `OUTPOST_MQTT_CA ('${context.caPath}') must hold the CA that signed the broker's certificate`
    : "the broker's certificate must chain to a system CA, or set OUTPOST_MQTT_CA to its CA file";
  return `TLS certificate of the broker at ${context.url} rejected: ${error.message}` +
    `${code ? ` (${code})` : ""}; ${trust}, and the certificate must name that host`;
}
