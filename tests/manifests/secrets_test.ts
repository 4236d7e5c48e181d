// No plaintext secret in Git: the repository's files and every rendered overlay and cluster are
// scanned (secret_scan.ts), Secrets in Git are SOPS ciphertext only, and each cluster decrypts
// its SOPS directory with an age key that .sops.yaml encrypts for.
import assert from "node:assert/strict";
import { kustomize, OVERLAYS, REPO_ROOT, requireTool, runCommand } from "./kube.ts";
import { scanFiles, type ScannedFile, scanObjects } from "./secret_scan.ts";

const CLUSTERS = OVERLAYS;

/** The creation rules of .sops.yaml (path_regex, encrypted_regex, age per rule). */
function creationRules(text: string) {
  return text.split(/^\s+- path_regex: /m).slice(1).map((block) => ({
    pathRegex: block.split("\n")[0].trim(),
    encryptedRegex: /encrypted_regex: (\S+)/.exec(block)?.[1] ?? "",
    age: /age: (\S+)/.exec(block)?.[1] ?? "",
  }));
}

async function repositoryFiles(): Promise<ScannedFile[]> {
  const git = requireTool("git", "git");
  const listed = await runCommand(git, ["-C", REPO_ROOT, "ls-files", "-z"]);
  assert.equal(listed.code, 0, listed.stderr);
  const files: ScannedFile[] = [];
  for (const path of listed.stdout.split("\0").filter(Boolean)) {
    const bytes = await Deno.readFile(`${REPO_ROOT}${path}`).catch(() => undefined);
    if (!bytes || bytes.includes(0)) continue; // deleted in the work tree, or binary
    files.push({ path, text: new TextDecoder().decode(bytes) });
  }
  return files;
}

Deno.test("no file in the repository holds a plaintext secret", async () => {
  const files = await repositoryFiles();
  assert.ok(files.length > 100, `only ${files.length} files listed`);
  assert.deepEqual(scanFiles(files), []);
});

Deno.test("no rendered overlay or cluster holds a Secret or a secret value", async () => {
  const findings: string[] = [];
  for (const overlay of OVERLAYS) {
    findings.push(...scanObjects(await kustomize(`k8s/overlays/${overlay}`)));
  }
  for (const cluster of CLUSTERS) {
    findings.push(...scanObjects(await kustomize(`clusters/${cluster}`)));
    findings.push(...scanObjects(await kustomize(`clusters/${cluster}/secrets`)));
  }
  assert.deepEqual(findings, []);
});

Deno.test("the scanners find what they look for", () => {
  const key = ["-----BEGIN", "EC PRIVATE KEY-----"].join(" ");
  const age = "AGE-SECRET-KEY-" + "1" + "Q".repeat(58);
  const seed = "SA" + "A".repeat(56);
  const plainSecret = [
    "apiVersion: v1",
    "kind: Secret",
    "metadata:",
    "  name: outpost-cloud",
    "stringData:",
    "  admin-token: hunter2-hunter2-hunter2",
  ].join("\n");
  const sopsSecret = [
    "apiVersion: v1",
    "kind: Secret",
    "metadata:",
    "  name: outpost-cloud",
    "stringData:",
    "  admin-token: ENC[AES256_GCM,data:q1w2e3,iv:abc=,tag:def=,type:str]",
    "sops:",
    "  age:",
    "    - recipient: age1xyz",
  ].join("\n");
  assert.deepEqual(
    scanFiles([
      { path: "a.pem", text: `x\n${key}\n` },
      { path: "b.txt", text: age },
      { path: "nats.env", text: `OUTPOST_NATS_ACCOUNT_SEED=${seed}` },
      { path: "clusters/dev/secrets/cloud.yaml", text: plainSecret },
      { path: "clusters/dev/secrets/ok.yaml", text: sopsSecret },
    ]),
    [
      "a.pem:2: a private key",
      "b.txt:1: an age identity",
      "nats.env:1: a NATS nkey seed",
      "clusters/dev/secrets/cloud.yaml:6: a Secret value that is not SOPS-encrypted",
    ],
  );
  assert.deepEqual(
    scanObjects([
      { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" } },
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "env", namespace: "n" },
        data: {
          "app.env": "OUTPOST_PORT=8000\nOUTPOST_ADMIN_TOKEN=abc\nOUTPOST_NATS_ACCOUNT_SEED=SAx\n" +
            "OUTPOST_NATS_ACCOUNT_SEED_FILE=/etc/outpost/nats-seeds/account-seed",
        },
      },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "d", namespace: "n" },
        spec: {
          template: {
            spec: {
              containers: [{
                name: "c",
                env: [{ name: "DB_PASSWORD", value: "pw" }, {
                  name: "OUTPOST_API_TOKEN",
                  valueFrom: { secretKeyRef: { name: "s", key: "k" } },
                }],
              }],
            },
          },
        },
      },
    ]),
    [
      "Secret n/s: a Secret in the rendered manifests",
      "ConfigMap n/env: app.env sets OUTPOST_ADMIN_TOKEN=abc",
      "ConfigMap n/env: app.env sets OUTPOST_NATS_ACCOUNT_SEED=SAx",
      "Deployment n/d: container c sets DB_PASSWORD literally",
    ],
  );
});

Deno.test("each cluster decrypts its SOPS directory, and .sops.yaml encrypts that directory for an age key", async () => {
  const rules = await Deno.readTextFile(`${REPO_ROOT}.sops.yaml`);
  for (const cluster of CLUSTERS) {
    const objects = await kustomize(`clusters/${cluster}`);
    const secrets = objects.find((object) =>
      object.kind === "Kustomization" && object.metadata.name === "secrets"
    );
    assert.ok(secrets, `${cluster}: a Flux Kustomization named secrets`);
    const spec = secrets.spec as {
      path: string;
      decryption?: { provider: string; secretRef?: { name: string } };
    };
    assert.deepEqual(spec.decryption, { provider: "sops", secretRef: { name: "sops-age" } });
    const dir = spec.path.replace(/^\.\//, "");
    const rule = creationRules(rules).find((candidate) =>
      new RegExp(candidate.pathRegex).test(`${dir}/outpost-cloud.yaml`)
    );
    assert.ok(rule, `.sops.yaml: no creation rule for ${dir}`);
    assert.equal(rule.encryptedRegex, "^(data|stringData)$", `${dir}: only values are encrypted`);
    assert.match(rule.age, /^age1[a-z0-9]{58}$/, `${dir}: an age recipient`);
    // Only ciphertext in that directory (the repository scan also checks its files).
    for await (const entry of Deno.readDir(`${REPO_ROOT}${dir}`)) {
      if (entry.name === "kustomization.yaml") continue;
      const text = await Deno.readTextFile(`${REPO_ROOT}${dir}/${entry.name}`);
      assert.match(text, /^sops:\s*$/m, `${dir}/${entry.name} is SOPS-encrypted`);
    }
  }
});

Deno.test("age (Debian) encrypts to a recipient and only its identity decrypts: the key pair Flux uses", async () => {
  const ageKeygen = requireTool("age-keygen", "age");
  const age = requireTool("age", "age");
  const dir = await Deno.makeTempDir({ prefix: "outpost-age-" });
  try {
    const made = await runCommand(ageKeygen, ["-o", `${dir}/age.agekey`]);
    assert.equal(made.code, 0, made.stderr);
    const recipient = (await runCommand(ageKeygen, ["-y", `${dir}/age.agekey`])).stdout.trim();
    assert.match(recipient, /^age1[a-z0-9]{58}$/);
    const secret = "enroll-token-not-in-git-0123456789";
    const sealed = await runCommand(age, ["-r", recipient, "-a"], { stdin: secret });
    assert.equal(sealed.code, 0, sealed.stderr);
    assert.ok(!sealed.stdout.includes(secret));
    await Deno.writeTextFile(`${dir}/sealed.age`, sealed.stdout);
    const opened = await runCommand(age, ["-d", "-i", `${dir}/age.agekey`, `${dir}/sealed.age`]);
    assert.equal(opened.stdout, secret);
    const other = await runCommand(ageKeygen, ["-o", `${dir}/other.agekey`]);
    assert.equal(other.code, 0);
    const refused = await runCommand(age, ["-d", "-i", `${dir}/other.agekey`, `${dir}/sealed.age`]);
    assert.notEqual(refused.code, 0, "another identity cannot decrypt");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
