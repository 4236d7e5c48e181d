/**
 * The agent's secrets, and which of them a running agent is missing. A missing secret does not
 * stop the agent (every local feature works without them), so it is made loud instead: logged
 * at every start, in `/readyz`'s body, in the `outpost_agent_secret_missing` metric, and, for
 * the enrollment token, in `GET /api/v1/sync`'s `lastError` (docs/DEPLOYMENT.md, "Secrets").
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { MetricsRegistry } from "@outpost/platform/metrics";

/** The settings that hold the agent's secrets. */
export const AGENT_SECRETS = ["OUTPOST_ENROLL_TOKEN", "OUTPOST_API_TOKEN"] as const;

/** One of {@link AGENT_SECRETS}. */
export type AgentSecret = typeof AGENT_SECRETS[number];

/** What decides whether a secret is missing. */
export interface SecretState {
  /** OUTPOST_API_TOKEN as configured. */
  apiToken?: string;
  /** True while the device must enroll and has no OUTPOST_ENROLL_TOKEN (the sync service). */
  needsEnrollToken: boolean;
}

/**
 * The secrets the agent needs and does not have. The enrollment token is needed only until
 * the device has enrolled; the API token always (without it anyone who reaches the agent's
 * port, or the sidecar's, may write and use the console).
 */
export function missingSecrets(state: SecretState): AgentSecret[] {
  const missing: AgentSecret[] = [];
  if (state.needsEnrollToken) missing.push("OUTPOST_ENROLL_TOKEN");
  if (!state.apiToken) missing.push("OUTPOST_API_TOKEN");
  return missing;
}

/** Registers `outpost_agent_secret_missing{secret}`: 1 for each missing secret, else 0. */
export function registerSecretMetrics(
  metrics: MetricsRegistry,
  missing: () => readonly AgentSecret[],
): void {
  metrics.gauge(
    "outpost_agent_secret_missing",
    "1 while the agent needs this secret and does not have it.",
    (gauge) => {
      const now = missing();
      for (const secret of AGENT_SECRETS) gauge.set(now.includes(secret) ? 1 : 0, { secret });
    },
  );
}

/** Logs, at start, the secret the configuration alone shows missing (the API token). */
export function warnAboutMissingApiToken(logger: Logger, apiToken: string | undefined): void {
  if (apiToken) return;
  logger.warn("OUTPOST_API_TOKEN is not set", {
    effect: "writes and the console need no token: anyone who reaches this agent may use them",
  });
}
