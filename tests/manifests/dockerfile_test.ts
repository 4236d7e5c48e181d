// Docker is not available on the test machines: these checks read the Dockerfiles.
import assert from "node:assert/strict";
import { finalStage, parseDockerfile } from "./dockerfile.ts";
import { REPO_ROOT, unpinnedImage } from "./kube.ts";

/** buildx TARGETARCH -> `deno compile --target`. */
const DENO_TARGETS = {
  amd64: "x86_64-unknown-linux-gnu",
  arm64: "aarch64-unknown-linux-gnu",
};

/** OCI label -> the build argument that feeds it. */
const OCI_LABELS = {
  source: "SOURCE",
  version: "VERSION",
  revision: "REVISION",
  created: "CREATED",
};

const IMAGES = [
  { component: "agent", port: 8000 },
  { component: "cloud", port: 8080 },
];

for (const { component, port } of IMAGES) {
  const path = `${REPO_ROOT}${component}/Dockerfile`;
  const binary = `outpost-${component}`;

  Deno.test(`the ${component} image is built natively once and picks each platform's binary`, async () => {
    const instructions = parseDockerfile(await Deno.readTextFile(path));
    const froms = instructions.filter((instruction) => instruction.keyword === "FROM");
    assert.ok(froms.length >= 3, "multi-stage");
    assert.match(
      froms[0].args,
      /^--platform=\$BUILDPLATFORM denoland\/deno:\$\{DENO_VERSION\} AS build$/,
    );
    assert.ok(
      instructions.some((i) => i.keyword === "RUN" && /\bdeno task compile\b/.test(i.args)),
      "compiles with deno task compile",
    );
    const text = instructions.map((i) => `${i.keyword} ${i.args}`).join("\n");
    for (const [arch, target] of Object.entries(DENO_TARGETS)) {
      assert.match(
        text,
        new RegExp(
          `FROM scratch AS bin-${arch}\\nCOPY --from=build /src/dist/${binary}-${target} /${binary}`,
        ),
      );
    }
    assert.match(text, /FROM bin-\$\{TARGETARCH\} AS bin/);
  });

  Deno.test(`the ${component} runtime image is distroless, non-root and needs no shell`, async () => {
    const stage = finalStage(parseDockerfile(await Deno.readTextFile(path)));
    assert.equal(stage[0].args, "gcr.io/distroless/cc-debian12:nonroot");
    const keywords = stage.map((instruction) => instruction.keyword);
    assert.ok(!keywords.includes("RUN"), "no RUN in the final stage: there is no shell");
    assert.deepEqual(stage.filter((i) => i.keyword === "USER").map((i) => i.args), ["65532:65532"]);
    const entrypoint = stage.find((i) => i.keyword === "ENTRYPOINT");
    assert.deepEqual(JSON.parse(entrypoint?.args ?? "null"), [`/usr/local/bin/${binary}`]);
    assert.deepEqual(stage.filter((i) => i.keyword === "EXPOSE").map((i) => i.args), [
      String(port),
    ]);
  });

  Deno.test(`the ${component} image carries OCI labels fed by build arguments`, async () => {
    const stage = finalStage(parseDockerfile(await Deno.readTextFile(path)));
    const labels = stage.filter((i) => i.keyword === "LABEL").map((i) => i.args).join(" ");
    for (const [label, arg] of Object.entries(OCI_LABELS)) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${label}="\\$\\{${arg}\\}"`));
      assert.ok(stage.some((i) => i.keyword === "ARG" && i.args.startsWith(`${arg}=`)), arg);
    }
  });
}

Deno.test("every base image of both Dockerfiles has an explicit tag that is not latest", async () => {
  for (const { component } of IMAGES) {
    const instructions = parseDockerfile(
      await Deno.readTextFile(`${REPO_ROOT}${component}/Dockerfile`),
    );
    // Global ARG defaults (before the first FROM) may appear in FROM lines.
    const args: Record<string, string> = {};
    for (const instruction of instructions) {
      if (instruction.keyword === "FROM") break;
      const [name, value] = instruction.args.split("=");
      if (instruction.keyword === "ARG" && value !== undefined) args[name] = value;
    }
    const stages = new Set<string>();
    for (const from of instructions.filter((instruction) => instruction.keyword === "FROM")) {
      const words = from.args.split(/\s+/).filter((word) => !word.startsWith("--"));
      const [image, as, stage] = words;
      if (as?.toUpperCase() === "AS") stages.add(stage);
      // A stage chosen by TARGETARCH is one of the stages above, for both architectures.
      const candidates = ["amd64", "arm64"].map((arch) =>
        image.replace(/\$\{(\w+)\}/g, (_, name) => name === "TARGETARCH" ? arch : args[name] ?? "")
      );
      if (image === "scratch" || candidates.every((candidate) => stages.has(candidate))) continue;
      assert.equal(
        unpinnedImage(candidates[0]),
        undefined,
        `${component}/Dockerfile: FROM ${from.args} resolves to ${candidates[0]}`,
      );
    }
  }
});
