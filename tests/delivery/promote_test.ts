import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { applyImages, main, overlayFile, readImages } from "./promote.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const AGENT = "ghcr.io/example-org/outpost-agent";
const CLOUD = "ghcr.io/example-org/outpost-cloud";
const DIGEST = `sha256:${"ab".repeat(32)}`;

/** A copy of the repository's k8s/ tree (what kustomize needs) in a temp dir. */
async function copyOfK8s(): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "outpost-promote-" });
  const copied = await new Deno.Command("cp", { args: ["-a", `${REPO_ROOT}k8s`, root] }).output();
  assert.ok(copied.success);
  return root;
}

async function setStagingTags(root: string, tag: string, agentDigest?: string) {
  const path = `${root}/${overlayFile("edge-staging")}`;
  let text = await Deno.readTextFile(path);
  text = text.replace(/newTag: \S+/g, `newTag: ${tag}`);
  if (agentDigest) {
    text = text.replace(
      /(- name: ghcr\.io\/example-org\/outpost-agent\n\s+newTag: .*\n)/,
      `$1    digest: ${agentDigest}\n`,
    );
  }
  await Deno.writeTextFile(path, text);
}

/** The images the rendered overlay runs (kubectl kustomize), by repository. */
async function renderedImages(root: string, overlay: string): Promise<Record<string, string>> {
  const built = await new Deno.Command("kubectl", {
    args: ["kustomize", `${root}/k8s/overlays/${overlay}/apps`],
    env: { KUBECONFIG: "/nonexistent/outpost-promote-test" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(built.success, new TextDecoder().decode(built.stderr));
  const images: Record<string, string> = {};
  for (const [, image] of new TextDecoder().decode(built.stdout).matchAll(/image: (\S+)/g)) {
    if (image.includes("/outpost-")) images[image.replace(/[:@].*$/, "")] = image;
  }
  return images;
}

async function quietly<T>(fn: () => Promise<T>): Promise<{ value: T; output: string }> {
  const lines: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  console.error = console.log;
  try {
    return { value: await fn(), output: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("the images of the overlays are read with tag and digest, markers ignored", async () => {
  const staging = readImages(await Deno.readTextFile(`${REPO_ROOT}${overlayFile("edge-staging")}`));
  assert.deepEqual(staging.map((pin) => pin.name), [AGENT, CLOUD]);
  for (const pin of staging) assert.match(pin.newTag ?? "", /^\d+\.\d+\.\d+/);
  const text = `images:\n  - name: a\n    newTag: "1.2.3" # x\n    digest: ${DIGEST}\nother: 1\n`;
  assert.deepEqual(readImages(text), [{ name: "a", newTag: "1.2.3", digest: DIGEST }]);
});

Deno.test("a promotion writes staging's exact tag and digest, and refuses lists that differ", () => {
  const production = [
    "images:",
    "  # promoted only",
    `  - name: ${AGENT}`,
    "    newTag: 0.1.0",
    `  - name: ${CLOUD}`,
    `    newTag: 0.1.0 # {"$imagepolicy": "flux-system:outpost-cloud:tag"}`,
    "    digest: sha256:" + "0".repeat(64),
    "patches: []",
    "",
  ].join("\n");
  const { text, changes } = applyImages(production, [
    { name: AGENT, newTag: "0.2.0", digest: DIGEST },
    { name: CLOUD, newTag: "0.2.0" },
  ], "promoted from edge-staging");
  assert.deepEqual(readImages(text), [
    { name: AGENT, newTag: "0.2.0", digest: DIGEST },
    { name: CLOUD, newTag: "0.2.0" },
  ]);
  assert.doesNotMatch(text, /\$imagepolicy/);
  assert.match(text, /# promoted only\n/);
  assert.match(text, /\npatches: \[\]\n$/);
  assert.deepEqual(changes, [
    `${AGENT}: 0.1.0 -> 0.2.0@${DIGEST}`,
    `${CLOUD}: 0.1.0@sha256:${"0".repeat(64)} -> 0.2.0`,
  ]);
  assert.throws(
    () => applyImages(production, [{ name: AGENT, newTag: "0.2.0" }], "x"),
    /name different images/,
  );
});

Deno.test("deno task promote makes production render exactly the images staging renders", async () => {
  const root = await copyOfK8s();
  try {
    await setStagingTags(root, "0.2.0-rc.3", DIGEST);
    const before = await renderedImages(root, "edge-production");
    assert.notDeepEqual(before, await renderedImages(root, "edge-staging"));

    const check = await quietly(() => main(["--root", root, "--check"]));
    assert.equal(check.value, 1, "--check says production differs");
    assert.deepEqual(await renderedImages(root, "edge-production"), before, "--check wrote");

    const promoted = await quietly(() => main(["--root", root]));
    assert.equal(promoted.value, 0, promoted.output);
    assert.match(promoted.output, /outpost-agent: 0\.1\.0 -> 0\.2\.0-rc\.3@sha256:/);
    assert.match(promoted.output, /git commit -m "edge-production: promote /);
    const staging = await renderedImages(root, "edge-staging");
    assert.deepEqual(await renderedImages(root, "edge-production"), staging);
    assert.equal(staging[AGENT], `${AGENT}:0.2.0-rc.3@${DIGEST}`);

    const again = await quietly(() => main(["--root", root, "--check"]));
    assert.equal(again.value, 0, "a second promotion has nothing to do");
    assert.match(again.output, /already runs/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("--ref promotes what staging ran at that commit, not a later edit", async () => {
  const root = await copyOfK8s();
  const git = async (...args: string[]) => {
    const result = await new Deno.Command("git", {
      args: ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(result.success, new TextDecoder().decode(result.stderr));
    return new TextDecoder().decode(result.stdout).trim();
  };
  try {
    await git("init", "-q");
    await setStagingTags(root, "0.3.0");
    await git("add", "k8s");
    await git("commit", "-q", "-m", "staging runs 0.3.0");
    const applied = await git("rev-parse", "HEAD");
    await setStagingTags(root, "0.4.0-rc.1");
    const result = await quietly(() => main(["--root", root, "--ref", applied]));
    assert.equal(result.value, 0, result.output);
    const production = readImages(
      await Deno.readTextFile(`${root}/${overlayFile("edge-production")}`),
    );
    assert.deepEqual(production.map((pin) => pin.newTag), ["0.3.0", "0.3.0"]);
    const missing = await quietly(() => main(["--root", root, "--ref", "no-such-ref"]));
    assert.equal(missing.value, 2);
    assert.match(missing.output, /Cannot promote edge-staging to edge-production: git show/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("deno task promote answers --help and refuses unknown options", async () => {
  const help = await quietly(() => main(["--help"]));
  assert.equal(help.value, 0);
  assert.match(help.output, /Usage: deno task promote \[options\]/);
  assert.match(help.output, /--ref <commit>/);
  const bad = await quietly(() => main(["--frm", "x"]));
  assert.equal(bad.value, 2);
  assert.equal(bad.output.split("\n").length, 1, "one line");
  assert.match(bad.output, /^deno task promote: .*--frm/);
});
