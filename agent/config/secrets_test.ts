import assert from "node:assert/strict";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { createLogger } from "@outpost/platform/log";
import {
  type AgentSecret,
  missingSecrets,
  registerSecretMetrics,
  warnAboutMissingApiToken,
} from "./secrets.ts";

Deno.test("the enrollment token is missing only while the device needs it; the API token always", () => {
  assert.deepEqual(missingSecrets({ apiToken: "t".repeat(16), needsEnrollToken: false }), []);
  assert.deepEqual(missingSecrets({ apiToken: "t".repeat(16), needsEnrollToken: true }), [
    "OUTPOST_ENROLL_TOKEN",
  ]);
  assert.deepEqual(missingSecrets({ needsEnrollToken: false }), ["OUTPOST_API_TOKEN"]);
  assert.deepEqual(missingSecrets({ apiToken: "", needsEnrollToken: true }), [
    "OUTPOST_ENROLL_TOKEN",
    "OUTPOST_API_TOKEN",
  ]);
});

Deno.test("the metric has a series per secret, 1 while it is missing and 0 once it is not", async () => {
  const metrics = new MetricsRegistry();
  let missing: AgentSecret[] = ["OUTPOST_ENROLL_TOKEN"];
  registerSecretMetrics(metrics, () => missing);
  const text = await metrics.render();
  assert.match(text, /^outpost_agent_secret_missing\{secret="OUTPOST_ENROLL_TOKEN"\} 1$/m);
  assert.match(text, /^outpost_agent_secret_missing\{secret="OUTPOST_API_TOKEN"\} 0$/m);
  missing = [];
  assert.match(
    await metrics.render(),
    /^outpost_agent_secret_missing\{secret="OUTPOST_ENROLL_TOKEN"\} 0$/m,
  );
});

Deno.test("a missing API token is a warning in the log, a present one says nothing", () => {
  const lines: string[] = [];
  const logger = createLogger({ write: (line) => lines.push(line) });
  warnAboutMissingApiToken(logger, "t".repeat(16));
  assert.deepEqual(lines, []);
  warnAboutMissingApiToken(logger, undefined);
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]).level, "warn");
  assert.match(lines[0], /OUTPOST_API_TOKEN is not set/);
});
