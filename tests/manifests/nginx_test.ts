import assert from "node:assert/strict";
import { freePort, replaceOnce, REPO_ROOT, requireTool, runCommand } from "./kube.ts";

const AGENT_CONF = `${REPO_ROOT}k8s/base/agent/nginx.conf`;
const CLOUD_CONF = `${REPO_ROOT}k8s/base/cloud/nginx.conf`;
const CLOUD_LOCATIONS = `${REPO_ROOT}k8s/base/cloud/outpost-locations.conf`;

function nginxPath(): string {
  return requireTool("nginx", "nginx");
}

/** Runs `nginx -t` on a config inside its own prefix directory; returns nginx's output. */
async function nginxTest(prefix: string, conf: string): Promise<string> {
  const result = await runCommand(nginxPath(), [
    "-t",
    "-p",
    `${prefix}/`,
    "-c",
    conf,
    "-e",
    "stderr",
  ]);
  assert.equal(result.code, 0, `nginx -t ${conf} failed:\n${result.stderr}`);
  return result.stderr;
}

/** A self-signed certificate and key in `dir` (tls.crt, tls.key), like a kubernetes.io/tls Secret. */
async function selfSignedCertificate(dir: string): Promise<void> {
  const openssl = requireTool("openssl", "openssl");
  const result = await runCommand(openssl, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/tls.key`,
    "-out",
    `${dir}/tls.crt`,
  ]);
  assert.equal(result.code, 0, `openssl could not make a test certificate: ${result.stderr}`);
}

Deno.test("the agent sidecar nginx config passes nginx -t as it is committed", async () => {
  const prefix = await Deno.makeTempDir({ prefix: "outpost-nginx-t-" });
  try {
    const output = await nginxTest(prefix, AGENT_CONF);
    assert.match(output, /test is successful/);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("the cloud nginx config passes nginx -t with a TLS certificate in place", async () => {
  const prefix = await Deno.makeTempDir({ prefix: "outpost-nginx-t-" });
  try {
    await Deno.mkdir(`${prefix}/tls`);
    await selfSignedCertificate(`${prefix}/tls`);
    // The upstream is a Service name resolvable only in the cluster, the certificate a Secret.
    let conf = await Deno.readTextFile(CLOUD_CONF);
    conf = replaceOnce(conf, "server outpost-cloud:8080;", `server 127.0.0.1:${freePort()};`);
    conf = replaceOnce(conf, "/etc/nginx/tls/tls.crt", `${prefix}/tls/tls.crt`);
    conf = replaceOnce(conf, "/etc/nginx/tls/tls.key", `${prefix}/tls/tls.key`);
    await Deno.writeTextFile(`${prefix}/nginx.conf`, conf);
    await Deno.copyFile(CLOUD_LOCATIONS, `${prefix}/outpost-locations.conf`);
    const output = await nginxTest(prefix, `${prefix}/nginx.conf`);
    assert.match(output, /test is successful/);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("nginx configs keep every writable path relative to the emptyDir prefix", async () => {
  for (const file of [AGENT_CONF, CLOUD_CONF]) {
    const conf = await Deno.readTextFile(file);
    assert.match(conf, /^pid [^/\s][^;]*;$/m, `${file}: pid file inside the prefix`);
    for (const directive of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
      assert.match(
        conf,
        new RegExp(`^\\s*${directive}_temp_path [^/\\s]`, "m"),
        `${file}: ${directive}`,
      );
    }
    assert.match(conf, /^error_log stderr/m);
    assert.match(conf, /access_log \/dev\/stdout/);
    assert.doesNotMatch(conf, /^\s*user\s/m, `${file}: runs as the container's non-root user`);
    for (const [, port] of conf.matchAll(/^\s*listen (\d+)/gm)) {
      assert.ok(Number(port) >= 1024, `${file}: listens on privileged port ${port}`);
    }
  }
});

interface Echo {
  method: string;
  path: string;
  realIp: string | null;
  forwardedFor: string | null;
  forwardedProto: string | null;
}

Deno.test("the agent sidecar proxies, caches assets, and answers 413 and 429 with the JSON envelope", async () => {
  const nginx = nginxPath();
  const prefix = await Deno.makeTempDir({ prefix: "outpost-nginx-run-" });
  // Started as root (as in CI), nginx runs its workers as "nobody": they must reach the prefix.
  await Deno.chmod(prefix, 0o755);
  const upstreamPort = freePort();
  const nginxPort = freePort();
  // A stand-in for the agent on 127.0.0.1: this test is about nginx, not the agent.
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: upstreamPort, onListen() {} },
    async (request) => {
      const url = new URL(request.url);
      await request.arrayBuffer();
      if (url.pathname.startsWith("/assets/")) {
        return new Response("console.log(1);", {
          headers: { "content-type": "application/javascript", "cache-control": "no-cache" },
        });
      }
      const echo: Echo = {
        method: request.method,
        path: url.pathname,
        realIp: request.headers.get("x-real-ip"),
        forwardedFor: request.headers.get("x-forwarded-for"),
        forwardedProto: request.headers.get("x-forwarded-proto"),
      };
      return Response.json(echo);
    },
  );
  let conf = await Deno.readTextFile(AGENT_CONF);
  conf = replaceOnce(conf, "server 127.0.0.1:8000;", `server 127.0.0.1:${upstreamPort};`);
  conf = replaceOnce(conf, "listen 8080;", `listen 127.0.0.1:${nginxPort};`);
  await Deno.writeTextFile(`${prefix}/nginx.conf`, conf);
  const child = new Deno.Command(nginx, {
    args: ["-p", `${prefix}/`, "-c", `${prefix}/nginx.conf`, "-e", "stderr"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const base = `http://127.0.0.1:${nginxPort}`;
  try {
    await waitForHealthy(`${base}/nginx-healthz`, child);

    const proxied = await fetch(`${base}/api/v1/sync`);
    const echo: Echo = await proxied.json();
    assert.equal(proxied.status, 200);
    assert.equal(echo.path, "/api/v1/sync");
    assert.equal(echo.realIp, "127.0.0.1");
    assert.equal(echo.forwardedFor, "127.0.0.1");
    assert.equal(echo.forwardedProto, "http");

    const health = await fetch(`${base}/healthz`);
    assert.equal((await health.json()).path, "/healthz", "/healthz is passed to the agent");

    const cacheStates = [];
    for (let i = 0; i < 2; i++) {
      const asset = await fetch(`${base}/assets/app.3f2a1b.js`);
      assert.equal(await asset.text(), "console.log(1);");
      assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
      cacheStates.push(asset.headers.get("x-cache-status"));
    }
    assert.deepEqual(cacheStates, ["MISS", "HIT"], "the second request is served from the cache");

    // One byte over the agent's 8 MiB body limit.
    const tooLarge = await fetch(`${base}/api/v1/readings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new Uint8Array(8 * 1024 * 1024 + 1),
    });
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal((await tooLarge.json()).error.code, "payload_too_large");

    // A bounded burst from one client: the first ones pass, the rest get 429 as JSON.
    const burst = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const response = await fetch(`${base}/api/v1/readings`);
        return {
          status: response.status,
          type: response.headers.get("content-type") ?? "",
          body: await response.json(),
        };
      }),
    );
    const limited = burst.filter((response) => response.status === 429);
    const passed = burst.filter((response) => response.status === 200);
    assert.ok(passed.length > 0, "some requests of the burst pass");
    assert.ok(limited.length > 0, "some requests of the burst are rate limited");
    console.log(`burst of ${burst.length}: ${passed.length} passed, ${limited.length} got 429`);
    assert.equal(passed.length + limited.length, burst.length);
    for (const response of limited) {
      assert.match(response.type, /^application\/json/);
      assert.equal(response.body.error.code, "rate_limited");
      assert.equal(typeof response.body.error.message, "string");
    }

    // With the agent gone, nginx answers for it, in the same envelope.
    await upstream.shutdown();
    const down = await fetch(`${base}/readyz`);
    assert.equal(down.status, 503);
    assert.equal((await down.json()).error.code, "unavailable");
  } finally {
    child.kill("SIGTERM");
    await child.status;
    const log = await stderr;
    if (log.includes("[emerg]") || log.includes("[crit]")) console.error(log);
    await upstream.shutdown();
    await Deno.remove(prefix, { recursive: true });
  }
});

async function waitForHealthy(url: string, child: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    assert.ok(!exited, "nginx exited at start");
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not answer ${url} within 10 s`);
}
