// These checks read the Dockerfiles; tests/system/docker_test.ts builds and runs their deno form.
import assert from "node:assert/strict";
import { COMPONENT_PERMISSIONS, COMPONENT_RUNTIME_FLAGS } from "@outpost/platform/runtime_flags";
import {
  execForm,
  expandArgs,
  finalStage,
  globalArgs,
  namedStage,
  parseDockerfile,
  stageEnv,
} from "./dockerfile.ts";
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
    const args = globalArgs(instructions);
    // Public defaults; an offline build overrides them with local images (docs/DEPLOYMENT.md).
    assert.equal(args.DENO_BIN_IMAGE, `denoland/deno:bin-${args.DENO_VERSION}`);
    assert.equal(args.BUILD_IMAGE, "debian:bookworm-slim");
    assert.equal(args.RUNTIME_IMAGE, "gcr.io/distroless/cc-debian12:nonroot");
    // A global default would override buildx's per-platform value (docker/buildx#510).
    for (const name of ["BUILDPLATFORM", "TARGETARCH"]) {
      assert.ok(instructions.some((i) => i.keyword === "ARG" && i.args === name), name);
    }
    assert.equal(namedStage(instructions, "deno-bin")[0].args, "${DENO_BIN_IMAGE} AS deno-bin");
    const build = namedStage(instructions, "build");
    assert.equal(build[0].args, "--platform=$BUILDPLATFORM ${BUILD_IMAGE} AS build");
    assert.ok(
      build.some((i) =>
        i.keyword === "COPY" && i.args === "--from=deno-bin /deno /usr/local/bin/deno"
      ),
    );
    const compile = namedStage(instructions, "compile");
    assert.ok(
      compile.some((i) =>
        i.keyword === "RUN" && /OUTPOST_VERSION="\$\{VERSION\}" deno task compile\b/.test(i.args)
      ),
      "compiles with deno task compile, stamping the VERSION build argument",
    );
    // Both forms report the VERSION build argument: the build stage stamps it into the source
    // the deno form ships (tests/system/docker_test.ts reads it back from /healthz).
    const buildText = build.map((i) => `${i.keyword} ${i.args}`).join("\n");
    assert.match(
      buildText,
      /ARG VERSION=\S+\nRUN deno run --allow-write=agent\/platform\/version\.ts agent\/build\/stamp_version\.ts "\$\{VERSION\}"/,
    );
    const text = instructions.map((i) => `${i.keyword} ${i.args}`).join("\n");
    for (const [arch, target] of Object.entries(DENO_TARGETS)) {
      assert.match(
        text,
        new RegExp(
          `FROM scratch AS bin-${arch}\\nCOPY --from=compile /app/dist/${binary}-${target} /${binary}`,
        ),
      );
    }
    assert.match(text, /FROM bin-\$\{TARGETARCH\} AS bin/);
    // The classic builder (DOCKER_BUILDKIT=0, as tests/system/docker_test.ts builds) knows no
    // RUN --mount, and builds every stage before its target: the deno form before the compiler.
    assert.ok(!instructions.some((i) => i.keyword === "RUN" && i.args.startsWith("--mount")));
    const froms = instructions.filter((i) => i.keyword === "FROM").map((i) => i.args);
    assert.ok(
      froms.findIndex((f) => / AS deno$/.test(f)) < froms.findIndex((f) => / AS denort$/.test(f)),
    );
  });

  Deno.test(`the ${component} image's deno form runs the task's program and flags, read-only`, async () => {
    const instructions = parseDockerfile(await Deno.readTextFile(path));
    const deno = namedStage(instructions, "deno");
    const final = finalStage(instructions);
    assert.equal(deno[0].args, "${RUNTIME_IMAGE} AS deno");
    // The permissions and runtime flags each binary embeds (and `deno task agent`/`cloud` use).
    assert.deepEqual(execForm(deno, "ENTRYPOINT"), [
      "/usr/local/bin/deno",
      "run",
      "--cached-only",
      ...COMPONENT_PERMISSIONS,
      ...COMPONENT_RUNTIME_FLAGS[component as "agent" | "cloud"],
      `/app/${component}/main.ts`,
    ]);
    const env = stageEnv(deno);
    assert.equal(env.DENO_DIR, "/app/.deno-dir");
    for (const [name, value] of Object.entries(stageEnv(final))) assert.equal(env[name], value);
    for (const keyword of ["USER", "EXPOSE", "VOLUME"] as const) {
      assert.deepEqual(
        deno.filter((i) => i.keyword === keyword).map((i) => i.args),
        final.filter((i) => i.keyword === keyword).map((i) => i.args),
        keyword,
      );
    }
  });

  Deno.test(`the ${component} runtime image is distroless, non-root and needs no shell`, async () => {
    const instructions = parseDockerfile(await Deno.readTextFile(path));
    const stage = finalStage(instructions);
    assert.equal(
      expandArgs(stage[0].args, globalArgs(instructions)),
      "gcr.io/distroless/cc-debian12:nonroot",
    );
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
    const args = globalArgs(instructions);
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

Deno.test("the build context leaves out .git, local data, installed packages and local builds", async () => {
  const ignored = (await Deno.readTextFile(`${REPO_ROOT}.dockerignore`)).split("\n")
    .map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
  for (const path of [".git", ".data", "node_modules", "dist", "web/static/build"]) {
    assert.ok(ignored.includes(path), `.dockerignore lacks ${path}`);
  }
});
