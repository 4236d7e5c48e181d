/**
 * A real nginx for system tests: the committed agent sidecar config pointed at a given
 * upstream, listening on a free loopback port inside its own prefix directory.
 * @module
 */
import { replaceOnce, REPO_ROOT, requireTool } from "../manifests/kube.ts";
import { freePort } from "./process.ts";

/** The agent sidecar's committed config. */
export const AGENT_SIDECAR_CONF = `${REPO_ROOT}k8s/base/agent/nginx.conf`;

/** A running nginx. */
export interface TestNginx {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Stops nginx and removes its prefix; resolves with what it wrote to stderr. */
  stop(): Promise<string>;
}

/**
 * Starts nginx with the agent sidecar config, proxying to `127.0.0.1:<upstreamPort>` instead
 * of the pod-local `127.0.0.1:8000`, and waits for `/nginx-healthz`.
 */
export async function startAgentSidecar(upstreamPort: number): Promise<TestNginx> {
  const nginx = requireTool("nginx", "nginx");
  const prefix = await Deno.makeTempDir({ prefix: "outpost-nginx-" });
  // Started as root (as in CI), nginx runs its workers as "nobody": they must reach the prefix.
  await Deno.chmod(prefix, 0o755);
  const port = freePort();
  let conf = await Deno.readTextFile(AGENT_SIDECAR_CONF);
  conf = replaceOnce(conf, "server 127.0.0.1:8000;", `server 127.0.0.1:${upstreamPort};`);
  conf = replaceOnce(conf, "listen 8080;", `listen 127.0.0.1:${port};`);
  await Deno.writeTextFile(`${prefix}/nginx.conf`, conf);
  const child = new Deno.Command(nginx, {
    args: ["-p", `${prefix}/`, "-c", `${prefix}/nginx.conf`, "-e", "stderr"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  child.status.then(() => exited = true);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    await child.status;
    await Deno.remove(prefix, { recursive: true });
    return await stderr;
  };
  const deadline = Date.now() + 10_000;
  while (true) {
    if (exited || Date.now() > deadline) {
      const log = await stop();
      throw new Error(`nginx did not answer ${url}/nginx-healthz within 10 s:\n${log}`);
    }
    try {
      const response = await fetch(`${url}/nginx-healthz`);
      await response.body?.cancel();
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url, stop };
}
