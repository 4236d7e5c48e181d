import assert from "node:assert/strict";
import {
  AGENT_RUNTIME_FLAGS,
  COMPONENT_PERMISSIONS,
  COMPONENT_RUNTIME_FLAGS,
} from "@outpost/platform/runtime_flags";
import { compileArgs } from "./compile.ts";

const ROOT = new URL("../../", import.meta.url);

Deno.test("the compiled agent embeds the agent's memory flags, before the entry point", () => {
  assert.deepEqual(COMPONENT_RUNTIME_FLAGS.agent, AGENT_RUNTIME_FLAGS);
  assert.ok(AGENT_RUNTIME_FLAGS.includes("--v8-flags=--optimize-for-size"));
  assert.ok(AGENT_RUNTIME_FLAGS.includes("--no-code-cache"));
  const args = compileArgs("agent", "x86_64-unknown-linux-gnu", "/tmp/out");
  const entry = args.indexOf("agent/main.ts");
  assert.equal(entry, args.length - 1);
  for (const flag of AGENT_RUNTIME_FLAGS) {
    const at = args.indexOf(flag);
    assert.ok(at > 0 && at < entry, `${flag} is a compile option`);
  }
});

for (const component of ["agent", "cloud"] as const) {
  Deno.test(`deno task ${component} runs with the runtime flags compiled into its binary`, async () => {
    const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
    const words: string[] = config.tasks[component].split(/\s+/);
    const entry = words.indexOf(`${component}/main.ts`);
    assert.ok(entry > 0, `the task runs ${component}/main.ts`);
    const flags = words.slice(2, entry).filter((word) => !word.startsWith("--allow-"));
    assert.deepEqual(flags, COMPONENT_RUNTIME_FLAGS[component]);
    const permissions = words.slice(2, entry).filter((word) => word.startsWith("--allow-"));
    assert.deepEqual(permissions, COMPONENT_PERMISSIONS, "the task's permissions are the binary's");
    const args = compileArgs(component, "aarch64-unknown-linux-gnu", "/tmp/out");
    for (const flag of flags) assert.ok(args.includes(flag), `compiled with ${flag}`);
  });
}

Deno.test("the images, the manifests and the systemd unit run the compiled binaries unchanged", async () => {
  // They get the flags from the binary; a DENO_V8_FLAGS of their own would add to them and drift.
  const files = [
    "agent/Dockerfile",
    "k8s/base/agent/daemonset/daemonset.yaml",
    "k8s/base/agent/agent.env",
    "ansible/roles/outpost_agent/templates/outpost-agent.service.j2",
    "cloud/Dockerfile",
    "k8s/base/cloud/cloud.env",
  ];
  for (const file of files) {
    let text = await Deno.readTextFile(new URL(file, ROOT));
    // A Dockerfile's compiled (default, last) stage; its deno form passes the same flags to
    // `deno run`, checked against runtime_flags.ts by tests/manifests/dockerfile_test.ts.
    if (file.endsWith("Dockerfile")) text = text.slice(text.lastIndexOf("\nFROM "));
    assert.ok(!/DENO_V8_FLAGS|--v8-flags/.test(text), `${file} sets no V8 flags of its own`);
  }
  const dockerfile = await Deno.readTextFile(new URL("agent/Dockerfile", ROOT));
  assert.match(dockerfile, /RUN .*deno task compile/);
  assert.match(dockerfile, /ENTRYPOINT \["\/usr\/local\/bin\/outpost-agent"\]\s*$/);
  const unit = await Deno.readTextFile(
    new URL("ansible/roles/outpost_agent/templates/outpost-agent.service.j2", ROOT),
  );
  assert.match(unit, /^ExecStart=\{\{ outpost_agent_binary_path \}\}$/m);
});

Deno.test("the compiled binaries include the tracing setup that is imported on demand", async () => {
  const { TRACING_MODULE } = await import("@outpost/platform/tracing_loader");
  const args = compileArgs("agent", "x86_64-unknown-linux-gnu", "dist/x");
  const included = args.flatMap((arg, i) => args[i - 1] === "--include" ? [arg] : []);
  assert.ok(included.includes(`agent/platform/${TRACING_MODULE.slice(2)}`), included.join(" "));
  await Deno.stat(new URL(`../platform/${TRACING_MODULE.slice(2)}`, import.meta.url));
});
