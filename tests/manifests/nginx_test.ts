import assert from "node:assert/strict";
import {
  type Container,
  freePort,
  type KubeObject,
  kustomize,
  objectId,
  OVERLAYS,
  podSpec,
  replaceOnce,
  requireTool,
  runCommand,
  workloads,
} from "./kube.ts";
import { PodSandbox } from "./pod.ts";
import { prepareNginx, repositoryOf } from "./programs.ts";

/** The image of every nginx in the manifests. */
const NGINX_IMAGE = "nginxinc/nginx-unprivileged";

function nginxPath(): string {
  return requireTool("nginx", "nginx");
}

/** A self-signed certificate and key, as in a kubernetes.io/tls Secret (tls.crt, tls.key). */
async function selfSignedCertificate(): Promise<Record<string, string>> {
  const openssl = requireTool("openssl", "openssl");
  const dir = await Deno.makeTempDir({ prefix: "outpost-tls-" });
  try {
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
    return {
      "tls.crt": await Deno.readTextFile(`${dir}/tls.crt`),
      "tls.key": await Deno.readTextFile(`${dir}/tls.key`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every nginx container of an overlay, with its workload. */
function nginxContainers(objects: KubeObject[]): { workload: KubeObject; container: Container }[] {
  return workloads(objects).flatMap((workload) =>
    podSpec(workload).containers
      .filter((container) => repositoryOf(container.image ?? "") === NGINX_IMAGE)
      .map((container) => ({ workload, container }))
  );
}

/**
 * The files of the ConfigMap an nginx container reads its config from (`-c <dir>/nginx.conf`),
 * as rendered: nginx.conf and whatever it includes from there.
 */
function renderedNginxConfigMap(
  objects: KubeObject[],
  workload: KubeObject,
  container: Container,
): { name: string; data: Record<string, string> } {
  const command = (container as { command?: string[] }).command ?? [];
  const config = command[command.indexOf("-c") + 1];
  assert.ok(config, `${objectId(workload)} ${container.name}: -c <config> in its command`);
  const dir = config.slice(0, config.lastIndexOf("/"));
  const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === dir);
  assert.ok(mount, `${objectId(workload)} ${container.name}: ${dir} is a volume mount`);
  const volume = podSpec(workload).volumes?.find((candidate) => candidate.name === mount.name);
  const name = volume?.configMap?.name;
  assert.ok(name, `${objectId(workload)} ${container.name}: ${dir} is a ConfigMap volume`);
  const configMap = objects.find((object) =>
    object.kind === "ConfigMap" && object.metadata.name === name &&
    object.metadata.namespace === workload.metadata.namespace
  );
  assert.ok(configMap, `ConfigMap ${name} is rendered`);
  return { name, data: configMap.data as Record<string, string> };
}

for (const overlay of OVERLAYS) {
  Deno.test(`${overlay}: nginx -t passes for every nginx config as rendered into its ConfigMap`, async () => {
    const objects = await kustomize(`k8s/overlays/${overlay}`);
    const found = nginxContainers(objects);
    // The agent sidecar of the default DaemonSet and of each per-site copy (same ConfigMap).
    const sites = objects.filter((object) =>
      object.kind === "DaemonSet" && object.metadata.labels?.["outpost.dev/site"]
    ).map((object) => `${objectId(object)} nginx`);
    assert.deepEqual(
      found.map(({ workload, container }) => `${objectId(workload)} ${container.name}`).sort(),
      [
        "DaemonSet outpost-edge/outpost-agent nginx",
        ...sites,
        "Deployment outpost-cloud/outpost-cloud-nginx nginx",
      ].sort(),
    );
    const fixture = {
      nodeName: "edge-node-1",
      secrets: { "outpost-cloud-tls": await selfSignedCertificate() },
    };
    for (const { workload, container } of found) {
      const { name, data } = renderedNginxConfigMap(objects, workload, container);
      assert.ok("nginx.conf" in data, `ConfigMap ${name} holds nginx.conf`);
      // Each include names a file of the same ConfigMap or of the nginx image.
      for (const [file, text] of Object.entries(data)) {
        for (const [, included] of text.matchAll(/^\s*include\s+(\S+);/gm)) {
          assert.ok(
            included in data || included === "/etc/nginx/mime.types",
            `${name}/${file}: include ${included} is neither in the ConfigMap nor in the image`,
          );
        }
      }
      // The volumes (ConfigMap files as rendered, the TLS Secret, emptyDirs) as directories;
      // the command's paths and the config's mount paths, ports and Services mapped to them.
      const sandbox = await PodSandbox.create({ objects, workload, fixture });
      try {
        const nginx = await prepareNginx(sandbox, container);
        const [program, args] = nginx.asUser.length
          ? [requireTool("setpriv", "util-linux"), [...nginx.asUser, nginx.nginx, ...nginx.args]]
          : [nginx.nginx, nginx.args];
        // Standard output to /dev/null: as another user than this test, nginx could not reopen
        // this test's pipe as /dev/stdout (its access_log).
        const output = await new Deno.Command(program, {
          args: [...args, "-t"],
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).output();
        const result = { code: output.code, stderr: new TextDecoder().decode(output.stderr) };
        const where = `${overlay} ${objectId(workload)} ${container.name} (ConfigMap ${name})`;
        assert.equal(result.code, 0, `nginx -t failed for ${where}:\n${result.stderr}`);
        assert.match(result.stderr, /test is successful/);
        console.log(
          `${where}: nginx -t ok; substitutions:\n  ${sandbox.substitutions.join("\n  ")}`,
        );
      } finally {
        await sandbox.remove();
      }
    }
  });
}

/** The agent sidecar and cloud nginx configs as rendered for the dev overlay, by file name. */
async function renderedConfigs(): Promise<Record<string, string>> {
  const objects = await kustomize("k8s/overlays/dev");
  const configs: Record<string, string> = {};
  for (const { workload, container } of nginxContainers(objects)) {
    const { data } = renderedNginxConfigMap(objects, workload, container);
    configs[`${workload.metadata.name}/nginx.conf`] = data["nginx.conf"];
  }
  return configs;
}

Deno.test("nginx configs keep every writable path relative to the emptyDir prefix", async () => {
  const configs = await renderedConfigs();
  assert.deepEqual(Object.keys(configs).sort(), [
    "outpost-agent/nginx.conf",
    "outpost-cloud-nginx/nginx.conf",
  ]);
  for (const [file, conf] of Object.entries(configs)) {
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
  let conf = (await renderedConfigs())["outpost-agent/nginx.conf"];
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
    console.log(
      `burst of ${burst.length}: ${passed.length} let through, ${limited.length} answered 429`,
    );
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

Deno.test("the cloud nginx: plain HTTP only redirects to HTTPS and never passes a token on; HTTPS proxies", async () => {
  const nginx = nginxPath();
  const openssl = requireTool("openssl", "openssl");
  const prefix = await Deno.makeTempDir({ prefix: "outpost-nginx-cloud-" });
  await Deno.chmod(prefix, 0o755);
  const made = await runCommand(openssl, [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"],
    // Not a CA (rustls refuses a CA certificate as the server's own).
    ...["-addext", "subjectAltName=DNS:localhost", "-addext", "basicConstraints=critical,CA:FALSE"],
    ...["-addext", "extendedKeyUsage=serverAuth"],
    ...["-keyout", `${prefix}/tls.key`, "-out", `${prefix}/tls.crt`],
  ]);
  assert.equal(made.code, 0, made.stderr);
  await Deno.chmod(`${prefix}/tls.key`, 0o644); // nginx workers run as nobody when root starts it
  const upstreamPort = freePort();
  const httpPort = freePort();
  const httpsPort = freePort();
  const seen: { path: string; authorization: string | null }[] = [];
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: upstreamPort, onListen() {} },
    async (request) => {
      await request.arrayBuffer();
      seen.push({
        path: new URL(request.url).pathname,
        authorization: request.headers.get("authorization"),
      });
      return Response.json({ ok: true });
    },
  );
  const objects = await kustomize("k8s/overlays/dev");
  const found = nginxContainers(objects).find(({ workload }) =>
    workload.metadata.name === "outpost-cloud-nginx"
  );
  assert.ok(found);
  const { data } = renderedNginxConfigMap(objects, found.workload, found.container);
  let conf = data["nginx.conf"];
  conf = replaceOnce(conf, "server outpost-cloud:8080;", `server 127.0.0.1:${upstreamPort};`);
  conf = replaceOnce(conf, "listen 8080;", `listen 127.0.0.1:${httpPort};`);
  conf = replaceOnce(conf, "listen 8443 ssl;", `listen 127.0.0.1:${httpsPort} ssl;`);
  conf = replaceOnce(conf, "/etc/nginx/tls/tls.crt", `${prefix}/tls.crt`);
  conf = replaceOnce(conf, "/etc/nginx/tls/tls.key", `${prefix}/tls.key`);
  await Deno.writeTextFile(`${prefix}/nginx.conf`, conf);
  await Deno.writeTextFile(`${prefix}/outpost-locations.conf`, data["outpost-locations.conf"]);
  const child = new Deno.Command(nginx, {
    args: ["-p", `${prefix}/`, "-c", `${prefix}/nginx.conf`, "-e", "stderr"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(`${prefix}/tls.crt`)] });
  try {
    await waitForHealthy(`http://127.0.0.1:${httpPort}/nginx-healthz`, child);
    const token = "Bearer admin-token-that-must-not-travel";
    for (
      const [method, path] of [
        ["GET", "/api/v1/devices"],
        ["POST", "/api/v1/enroll"],
        ["PUT", "/api/v1/devices/pi-1/desired"],
        ["GET", "/"],
        ["GET", "/healthz"],
        ["GET", "/metrics"],
      ]
    ) {
      const response = await fetch(`http://127.0.0.1:${httpPort}${path}?x=1`, {
        method,
        headers: { authorization: token, "content-type": "application/json" },
        body: method === "GET" ? undefined : "{}",
        redirect: "manual",
      });
      await response.body?.cancel();
      assert.equal(response.status, 308, `${method} ${path} over HTTP`);
      assert.equal(response.headers.get("location"), `https://127.0.0.1${path}?x=1`);
    }
    assert.deepEqual(seen, [], "nothing sent to plain HTTP reached the API");

    const proxied = await fetch(`https://localhost:${httpsPort}/api/v1/devices`, {
      client,
      headers: { authorization: token },
    });
    assert.equal(proxied.status, 200);
    await proxied.body?.cancel();
    assert.deepEqual(seen, [{ path: "/api/v1/devices", authorization: token }]);
    const hsts = proxied.headers.get("strict-transport-security");
    assert.match(hsts ?? "", /max-age=\d+/);
    const metrics = await fetch(`https://localhost:${httpsPort}/metrics`, { client });
    assert.equal(metrics.status, 404, "metrics are not published on the public entry point");
    await metrics.body?.cancel();
  } finally {
    client.close();
    child.kill("SIGTERM");
    await child.status;
    const log = await stderr;
    if (log.includes("[emerg]") || log.includes("[crit]")) console.error(log);
    await upstream.shutdown();
    await Deno.remove(prefix, { recursive: true });
  }
});
