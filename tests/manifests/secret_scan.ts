/**
 * Finding plaintext secrets: in files (private keys, age identities, cloud and Git tokens,
 * Secret manifests whose values are not SOPS ciphertext) and in rendered Kubernetes objects
 * (Secrets, secret-looking environment values and ConfigMap entries).
 * @module
 */
import type { KubeObject } from "./kube.ts";

/** A file to scan. */
export interface ScannedFile {
  path: string;
  text: string;
}

// Spelled in pieces so this file does not match itself.
const BEGIN = "-----BEGIN ";
const FILE_PATTERNS: [string, RegExp][] = [
  ["a private key", new RegExp(`${BEGIN}(?:[A-Z]+ )*PRIVATE KEY-----`)],
  ["an age identity", new RegExp("AGE-SECRET-KEY-" + "1[0-9A-Z]{58}")],
  ["an AWS access key", new RegExp("\\bAKIA" + "[0-9A-Z]{16}\\b")],
  ["a GitHub token", new RegExp("\\bgh[pousr]_" + "[A-Za-z0-9]{36,}\\b")],
  ["a Slack token", new RegExp("\\bxox[abprs]-" + "[A-Za-z0-9-]{10,}")],
  ["a bearer token", new RegExp("\\bBearer " + "[A-Za-z0-9._~+/-]{40,}={0,2}")],
  // A NATS nkey seed (operator, account, user, server, cluster): `deno task nats:init` output.
  ["a NATS nkey seed", new RegExp("\\bS[OAUNC]" + "[A-Z2-7]{56}\\b")],
];

/** SOPS ciphertext of one value. */
const SOPS_VALUE = /^ENC\[AES256_GCM,data:[^,]*,iv:[^,]+,tag:[^,]+,type:\w+\]$/;

/** Names of settings that hold secrets (as in our log redaction). */
export const SECRET_NAME =
  /token|password|passwd|secret|credential|private[_-]?key|api[_-]?key|seed/i;

/**
 * What looks like a plaintext secret in `files`: one line per finding, naming the file, the
 * line and what it is.
 */
export function scanFiles(files: ScannedFile[]): string[] {
  const findings: string[] = [];
  for (const { path, text } of files) {
    text.split("\n").forEach((line, index) => {
      for (const [what, pattern] of FILE_PATTERNS) {
        if (pattern.test(line)) findings.push(`${path}:${index + 1}: ${what}`);
      }
    });
    if (/^kind:\s*Secret\s*$/m.test(text) && /\.ya?ml$/.test(path)) {
      findings.push(...unencryptedSecretValues(path, text));
    }
  }
  return findings;
}

/** Values under `data:`/`stringData:` of a Secret manifest that are not SOPS ciphertext. */
function unencryptedSecretValues(path: string, text: string): string[] {
  const findings: string[] = [];
  const encrypted = /^sops:\s*$/m.test(text) && /^\s+age:/m.test(text);
  let inData = false;
  text.split("\n").forEach((line, index) => {
    if (/^(data|stringData):\s*$/.test(line)) {
      inData = true;
      return;
    }
    if (/^\S/.test(line)) inData = false;
    const entry = /^\s+[\w.-]+:\s*(.*)$/.exec(line);
    if (!inData || !entry) return;
    const value = entry[1].trim().replace(/^["']|["']$/g, "");
    if (!encrypted || !SOPS_VALUE.test(value)) {
      findings.push(`${path}:${index + 1}: a Secret value that is not SOPS-encrypted`);
    }
  });
  return findings;
}

/**
 * What in rendered objects would be a secret in Git: any Secret (ours come from SOPS files or
 * out of band), a literal environment value or ConfigMap entry under a secret-looking name.
 */
export function scanObjects(objects: KubeObject[]): string[] {
  const findings: string[] = [];
  for (const object of objects) {
    const id = `${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}`;
    if (object.kind === "Secret") findings.push(`${id}: a Secret in the rendered manifests`);
    if (object.kind === "ConfigMap") {
      for (const [key, value] of Object.entries((object.data ?? {}) as Record<string, string>)) {
        if (SECRET_NAME.test(key) && !key.endsWith("_FILE")) findings.push(`${id}: entry ${key}`);
        // env files rendered into a ConfigMap: KEY=value lines.
        for (const [, name, literal] of value.matchAll(/^([A-Z][A-Z0-9_]*)=(.+)$/gm)) {
          // `<NAME>_FILE` names the file that holds the secret (a mounted Secret), not the secret.
          if (SECRET_NAME.test(name) && !name.endsWith("_FILE")) {
            findings.push(`${id}: ${key} sets ${name}=${literal}`);
          }
        }
      }
    }
    const template = (object.spec as { template?: { spec?: Record<string, unknown> } } | undefined)
      ?.template?.spec;
    for (
      const container of [
        ...((template?.containers ?? []) as Record<string, unknown>[]),
        ...((template?.initContainers ?? []) as Record<string, unknown>[]),
      ]
    ) {
      for (const env of (container.env ?? []) as { name: string; value?: string }[]) {
        if (SECRET_NAME.test(env.name) && env.value !== undefined && env.value !== "") {
          findings.push(`${id}: container ${container.name} sets ${env.name} literally`);
        }
      }
    }
  }
  return findings;
}
