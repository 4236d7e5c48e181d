/**
 * How the components run, defined once: the permissions and runtime flags that `deno task
 * compile` embeds in each binary, that deno.json's `agent` and `cloud` tasks repeat (a test keeps
 * them equal) and that tests and `deno task dev` use when they start a component from source.
 * @module
 */

/** The permissions of both components: nothing else (no `--allow-run`, no `--allow-all`). */
export const COMPONENT_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-ffi",
];

/**
 * Runtime flags of the agent, wherever it runs: embedded in the compiled binary (so the Docker
 * image, the DaemonSet and the systemd unit, which all run that binary, get them without any
 * setting of their own) and repeated in deno.json's `agent` task. Measured in
 * docs/PERFORMANCE.md: `--optimize-for-size` makes V8 grow its heap in smaller steps and give
 * pages back sooner (agent RSS after the load benchmark 250 -> ~105 MB, no measurable throughput
 * cost); `--no-code-cache` skips mapping V8's code cache (~4 MB of RSS, ~50-100 ms more to start).
 */
export const AGENT_RUNTIME_FLAGS: readonly string[] = [
  "--no-code-cache",
  "--v8-flags=--optimize-for-size",
];

/** Runtime flags of each component. */
export const COMPONENT_RUNTIME_FLAGS: Record<"agent" | "cloud", readonly string[]> = {
  agent: AGENT_RUNTIME_FLAGS,
  // With 10,000 devices on the embedded broker, cloud RSS 471 -> 362 MB together with the
  // retained-message index (docs/PERFORMANCE.md).
  cloud: ["--v8-flags=--optimize-for-size"],
};

/** `deno run` arguments that start `component` from source the way its binary runs. */
export function componentRunArgs(component: "agent" | "cloud", entry: string): string[] {
  return ["run", ...COMPONENT_PERMISSIONS, ...COMPONENT_RUNTIME_FLAGS[component], entry];
}
