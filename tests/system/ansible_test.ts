// System tests of ansible/: syntax and lint of every playbook and role, and a real run of the
// outpost_agent role against this machine (connection=local) into a scratch root, with a shell
// script standing in for the agent binary and a local HTTP server standing in for its probes.
// Needs the Debian packages ansible-core, ansible-lint and systemd (for systemd-analyze).

import assert from "node:assert/strict";
import {
  ANSIBLE_DIR,
  ansibleEnv,
  type CommandResult,
  hostTarget,
  parseRecap,
  requireCommand,
  runCommand,
} from "./ansible_helpers.ts";

const HOST = "testbox";
const ENROLL_TOKEN = 'enroll-Tok3n-0f-the-test"$x';
const API_TOKEN = "api-Tok3n-0f-the-test";
/** A part of both secrets that must never show up in Ansible's output. */
const SECRET_MARKER = "Tok3n-0f-the-test";

const HARDENING_DIRECTIVES = [
  "NoNewPrivileges=yes",
  "ProtectSystem=strict",
  "PrivateTmp=yes",
  "ProtectHome=yes",
  "CapabilityBoundingSet=\n",
  "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
  "MemoryMax=256M",
  "Restart=on-failure",
  "RestartSec=5",
];

async function listPlaybooks(): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${ANSIBLE_DIR}playbooks`)) {
    if (entry.isFile && entry.name.endsWith(".yml")) names.push(`playbooks/${entry.name}`);
  }
  return names.sort();
}

function fileMode(path: string): number {
  const mode = Deno.statSync(path).mode;
  assert.ok(mode !== null, `no mode for ${path}`);
  return mode & 0o777;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function describe(result: CommandResult): string {
  return `exit code ${result.code}; output tail:\n${result.output.slice(-4000)}`;
}

async function idName(flag: "-un" | "-gn"): Promise<string> {
  const result = await runCommand(["id", flag], { cwd: "/" });
  assert.equal(result.code, 0, `id ${flag} failed: ${result.stderr}`);
  return result.stdout.trim();
}

/** Writes an executable stand-in for the agent binary that prints `version`. */
async function writeFakeBinary(distDir: string, version: string): Promise<void> {
  await Deno.mkdir(distDir, { recursive: true });
  const path = `${distDir}/outpost-agent-${hostTarget()}`;
  await Deno.writeTextFile(path, `#!/bin/sh\necho "outpost-agent ${version}"\n`);
  await Deno.chmod(path, 0o755);
}

/** Test double for the agent's probes and a release server; the test switches its health. */
interface FakeServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** How many requests it answered. */
  hits: () => number;
  /** Makes /healthz and /readyz answer 200 (true) or 503 (false). */
  setHealthy: (value: boolean) => void;
  /** Stops the server. */
  close: () => Promise<void>;
}

/**
 * Serves `/healthz` and `/readyz` (as the agent would) and `/release/<file>` from `releaseDir`
 * (as a release server would).
 */
function startFakeServer(releaseDir: string): FakeServer {
  let healthy = true;
  let hits = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    hits++;
    const path = new URL(request.url).pathname;
    if (path.startsWith("/release/")) {
      const name = path.slice("/release/".length);
      if (!/^[\w.-]+$/.test(name) || !exists(`${releaseDir}/${name}`)) {
        return new Response("not found", { status: 404 });
      }
      return new Response(await Deno.readFile(`${releaseDir}/${name}`));
    }
    if (path !== "/healthz" && path !== "/readyz") {
      return new Response("not found", { status: 404 });
    }
    return healthy
      ? Response.json({ status: "ok" })
      : Response.json({ status: "unavailable" }, { status: 503 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    hits: () => hits,
    setHealthy: (value) => {
      healthy = value;
    },
    close: () => server.shutdown(),
  };
}

async function sha256Hex(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** State shared by the runs of one role test. */
interface RoleRun {
  /** Scratch directory (vars files, dist dirs, Ansible's temp files). */
  scratch: string;
  /** Inventory file with the local test host. */
  inventory: string;
  /** Variables every run gets. */
  baseVars: Record<string, unknown>;
  /** Output of every run so far. */
  outputs: string[];
}

/** Options of {@link play}. */
interface PlayOptions {
  /** Version of the fake binary to install (its dist dir is `dist-<version>`). */
  version: string;
  /** Extra ansible-playbook arguments. */
  args?: string[];
  /** Variables on top of the run's base variables. */
  vars?: Record<string, unknown>;
}

/** Runs one playbook against the test host with `--diff -v` and checks no secret leaked. */
async function play(run: RoleRun, playbook: string, options: PlayOptions): Promise<CommandResult> {
  const varsFile = `${run.scratch}/vars-${run.outputs.length}.json`;
  await Deno.writeTextFile(
    varsFile,
    JSON.stringify({
      ...run.baseVars,
      outpost_agent_version: options.version,
      outpost_agent_local_dist_dir: `${run.scratch}/dist-${options.version}`,
      ...options.vars,
    }),
  );
  const result = await runCommand(
    [
      "ansible-playbook",
      "-i",
      run.inventory,
      "-e",
      `@${varsFile}`,
      "--diff",
      "-v",
      ...(options.args ?? []),
      `playbooks/${playbook}`,
    ],
    { env: ansibleEnv(run.scratch) },
  );
  run.outputs.push(result.output);
  assert.ok(
    !result.output.includes(SECRET_MARKER),
    `a secret leaked into the output of ${playbook}:\n${result.output}`,
  );
  return result;
}

async function readBinary(path: string): Promise<string> {
  return (await Deno.readTextFile(path)).trim();
}

Deno.test("every playbook passes ansible-playbook --syntax-check", async () => {
  await requireCommand("ansible-playbook", "ansible-core");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-syntax-" });
  try {
    const playbooks = await listPlaybooks();
    assert.ok(playbooks.includes("playbooks/site.yml"), `no site.yml among ${playbooks}`);
    const result = await runCommand(
      ["ansible-playbook", "-i", "inventories/example/hosts.yml", "--syntax-check", ...playbooks],
      { env: ansibleEnv(scratch) },
    );
    assert.equal(result.code, 0, describe(result));
    for (const playbook of playbooks) {
      assert.match(result.stdout, new RegExp(`playbook: ${playbook}`), `${playbook} not checked`);
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("the example inventory defines every group the playbooks target", async () => {
  await requireCommand("ansible-inventory", "ansible-core");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-inventory-" });
  try {
    const result = await runCommand(
      ["ansible-inventory", "-i", "inventories/example/hosts.yml", "--list"],
      { env: ansibleEnv(scratch) },
    );
    assert.equal(result.code, 0, describe(result));
    const inventory = JSON.parse(result.stdout);
    for (const group of ["k3s_servers", "k3s_agents", "kubeedge_edges", "outpost_bare"]) {
      assert.ok(inventory[group]?.hosts?.length > 0, `group ${group} has no hosts`);
      assert.ok(
        inventory.outpost_devices.children.includes(group),
        `${group} not in outpost_devices`,
      );
    }
    const vars = inventory._meta.hostvars["kiosk-01"];
    assert.equal(vars.outpost_agent_enroll_token, "{{ vault_outpost_enroll_token }}");
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("every K3s and KubeEdge node play prepares the agent DaemonSet's data directory first", async () => {
  await requireCommand("ansible-playbook", "ansible-core");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-tasks-" });
  try {
    const result = await runCommand(
      [
        "ansible-playbook",
        "-i",
        "inventories/example/hosts.yml",
        "--list-tasks",
        "playbooks/k3s.yml",
        "playbooks/kubeedge.yml",
      ],
      { env: ansibleEnv(scratch) },
    );
    assert.equal(result.code, 0, describe(result));
    // "play #1 (k3s_servers): ..." followed by its tasks, up to the next play.
    const plays = result.stdout.split(/^\s*play #\d+ /m).slice(1);
    const hosts = plays.map((play) => play.match(/^\(([^)]+)\)/)?.[1]);
    assert.deepEqual(hosts.sort(), ["k3s_agents", "k3s_servers", "kubeedge_edges"]);
    for (const play of plays) {
      const tasks = play.split("\n").map((line) => line.trim())
        .filter((line) => line.includes(" : ") && !line.includes("Validating arguments"));
      // The role dependency runs before the node role (K3s/KubeEdge) starts pods there.
      assert.match(
        tasks[2] ?? "",
        /^outpost_node : Create the agent's data directory/,
        `play ${play.split("\n")[0]}: the data directory comes first:\n${tasks.join("\n")}`,
      );
    }
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("ansible-lint passes with the production profile, offline", async () => {
  await requireCommand("ansible-lint", "ansible-lint");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-lint-" });
  try {
    const config = await Deno.readTextFile(`${ANSIBLE_DIR}.ansible-lint`);
    assert.match(config, /^profile: production$/m);
    assert.match(config, /^offline: true$/m);
    const result = await runCommand(["ansible-lint", "--nocolor"], {
      env: { ...ansibleEnv(scratch), TERM: "dumb", COLUMNS: "200" },
    });
    assert.equal(result.code, 0, describe(result));
    assert.match(result.output, /Passed with production profile/);
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});

Deno.test("the outpost_agent role installs, stays idempotent, upgrades and rolls back", async (t) => {
  await requireCommand("ansible-playbook", "ansible-core");
  await requireCommand("systemd-analyze", "systemd");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-role-" });
  const probes = startFakeServer(`${scratch}/dist-2.0.0`);
  const outputs: string[] = [];
  try {
    const root = `${scratch}/root`;
    const binary = `${root}/usr/local/bin/outpost-agent`;
    const envFile = `${root}/etc/outpost/agent.env`;
    const unitFile = `${root}/etc/systemd/system/outpost-agent.service`;
    const dataDir = `${root}/var/lib/outpost`;
    for (const version of ["1.0.0", "2.0.0", "3.0.0"]) {
      await writeFakeBinary(`${scratch}/dist-${version}`, version);
    }
    const inventory = `${scratch}/inventory.yml`;
    await Deno.writeTextFile(
      inventory,
      [
        "outpost_bare:",
        "  hosts:",
        `    ${HOST}:`,
        "      ansible_connection: local",
        "      ansible_python_interpreter: /usr/bin/python3",
        "",
      ].join("\n"),
    );
    const user = await idName("-un");
    const group = await idName("-gn");
    const baseVars = {
      outpost_agent_bin_dir: `${root}/usr/local/bin`,
      outpost_agent_config_dir: `${root}/etc/outpost`,
      outpost_agent_data_dir: dataDir,
      outpost_agent_unit_dir: `${root}/etc/systemd/system`,
      outpost_agent_manage_user: false,
      outpost_agent_manage_service: false,
      outpost_agent_user: user,
      outpost_agent_group: group,
      outpost_agent_admin_user: user,
      outpost_agent_admin_group: group,
      outpost_agent_cloud_url: "https://cloud.example.test",
      outpost_agent_enroll_token: ENROLL_TOKEN,
      outpost_agent_api_token: API_TOKEN,
      outpost_agent_health_check: true,
      outpost_agent_health_url: probes.url,
      outpost_agent_health_retries: 2,
      outpost_agent_health_delay: 1,
    };
    const run: RoleRun = { scratch, inventory, baseVars, outputs };

    await t.step("a first run lays out binary, env file, data dir and unit", async () => {
      const result = await play(run, "agent.yml", { version: "1.0.0" });
      assert.equal(result.code, 0, describe(result));
      const recap = parseRecap(result.output, HOST);
      assert.equal(recap.failed, 0);
      assert.ok(recap.changed > 0, "nothing changed on a first run");
      assert.match(await readBinary(binary), /outpost-agent 1\.0\.0/);
      assert.equal(fileMode(binary), 0o755);
      assert.equal(fileMode(envFile), 0o600);
      assert.equal(fileMode(`${root}/etc/outpost`), 0o750);
      assert.equal(fileMode(dataDir), 0o750);
      assert.equal(fileMode(unitFile), 0o644);
      assert.ok(!exists(`${binary}.previous`), "a first install has no previous binary");

      const env = await Deno.readTextFile(envFile);
      assert.match(env, /^OUTPOST_PORT="8000"$/m);
      assert.match(env, /^OUTPOST_HOST="127\.0\.0\.1"$/m);
      assert.ok(env.includes(`OUTPOST_DATA_DIR="${dataDir}"`), env);
      assert.match(env, new RegExp(`^OUTPOST_DEVICE_ID="${HOST}"$`, "m"));
      assert.match(env, /^OUTPOST_CLOUD_URL="https:\/\/cloud\.example\.test"$/m);
      assert.ok(env.includes('OUTPOST_ENROLL_TOKEN="enroll-Tok3n-0f-the-test\\"\\$x"'), env);
      assert.ok(env.includes(`OUTPOST_API_TOKEN="${API_TOKEN}"`), env);
      assert.doesNotMatch(env, /OUTPOST_MQTT_URL/, "unset settings are left to the agent");

      const unit = await Deno.readTextFile(unitFile);
      for (const directive of HARDENING_DIRECTIVES) {
        assert.ok(unit.includes(directive), `unit lacks ${JSON.stringify(directive)}:\n${unit}`);
      }
      assert.ok(unit.includes(`ReadWritePaths=${dataDir}\n`), unit);
      assert.ok(unit.includes(`ExecStart=${binary}\n`), unit);
      assert.ok(unit.includes(`EnvironmentFile=${envFile}\n`), unit);
      assert.ok(probes.hits() >= 2, "the role did not probe /healthz and /readyz");
    });

    await t.step("systemd-analyze verify accepts the rendered unit", async () => {
      const result = await runCommand(["systemd-analyze", "verify", unitFile], { cwd: scratch });
      assert.equal(result.code, 0, describe(result));
      assert.ok(!result.output.includes(unitFile), `systemd-analyze warned:\n${result.output}`);
    });

    await t.step("a second run changes nothing", async () => {
      const result = await play(run, "agent.yml", { version: "1.0.0" });
      assert.equal(result.code, 0, describe(result));
      assert.equal(parseRecap(result.output, HOST).changed, 0, result.output);
    });

    await t.step("a check-mode upgrade fails nothing and touches nothing", async () => {
      const result = await play(run, "agent.yml", {
        version: "2.0.0",
        args: ["--check"],
      });
      assert.equal(result.code, 0, describe(result));
      assert.equal(parseRecap(result.output, HOST).failed, 0);
      assert.match(await readBinary(binary), /1\.0\.0/);
      assert.ok(!exists(`${binary}.previous`), "check mode wrote outpost-agent.previous");
    });

    await t.step("check mode on an empty root fails nothing and creates nothing", async () => {
      const result = await play(run, "agent.yml", {
        version: "1.0.0",
        args: ["--check"],
        vars: {
          outpost_agent_bin_dir: `${scratch}/empty/bin`,
          outpost_agent_config_dir: `${scratch}/empty/etc`,
          outpost_agent_data_dir: `${scratch}/empty/data`,
          outpost_agent_unit_dir: `${scratch}/empty/systemd`,
        },
      });
      assert.equal(result.code, 0, describe(result));
      assert.ok(!exists(`${scratch}/empty`), "check mode created files");
    });

    await t.step("an upgrade keeps the replaced binary as outpost-agent.previous", async () => {
      const result = await play(run, "upgrade.yml", { version: "2.0.0" });
      assert.equal(result.code, 0, describe(result));
      assert.ok(parseRecap(result.output, HOST).changed > 0);
      assert.match(await readBinary(binary), /2\.0\.0/);
      assert.match(await readBinary(`${binary}.previous`), /1\.0\.0/);
      assert.equal(fileMode(`${binary}.previous`), 0o755);

      const again = await play(run, "upgrade.yml", { version: "2.0.0" });
      assert.equal(again.code, 0, describe(again));
      assert.equal(parseRecap(again.output, HOST).changed, 0, again.output);
    });

    await t.step("the rollback playbook restores the previous binary, once", async () => {
      const result = await play(run, "rollback.yml", { version: "2.0.0" });
      assert.equal(result.code, 0, describe(result));
      assert.ok(parseRecap(result.output, HOST).changed > 0);
      assert.match(await readBinary(binary), /1\.0\.0/);
      assert.match(await readBinary(`${binary}.rejected`), /2\.0\.0/);

      const again = await play(run, "rollback.yml", { version: "2.0.0" });
      assert.equal(again.code, 0, describe(again));
      assert.equal(parseRecap(again.output, HOST).changed, 0, again.output);
    });

    await t.step("a new binary that fails its health check is rolled back", async () => {
      probes.setHealthy(false);
      const result = await play(run, "upgrade.yml", { version: "3.0.0" });
      probes.setHealthy(true);
      assert.notEqual(result.code, 0, "an unhealthy upgrade must fail the play");
      const recap = parseRecap(result.output, HOST);
      assert.equal(recap.rescued, 1, result.output);
      assert.equal(recap.failed, 1, result.output);
      assert.match(result.output, /the previous binary was restored/);
      assert.match(await readBinary(binary), /1\.0\.0/);
      assert.match(await readBinary(`${binary}.rejected`), /3\.0\.0/);
    });

    await t.step("an unhealthy first install fails without a rollback attempt", async () => {
      const fresh = `${scratch}/fresh`;
      probes.setHealthy(false);
      const result = await play(run, "agent.yml", {
        version: "1.0.0",
        vars: {
          outpost_agent_bin_dir: `${fresh}/bin`,
          outpost_agent_config_dir: `${fresh}/etc`,
          outpost_agent_data_dir: `${fresh}/data`,
          outpost_agent_unit_dir: `${fresh}/systemd`,
          outpost_agent_health_retries: 1,
        },
      });
      probes.setHealthy(true);
      assert.notEqual(result.code, 0, "an unhealthy install must fail the play");
      assert.match(result.output, /did not become healthy/);
      assert.doesNotMatch(result.output, /previous binary was restored|Cannot roll back/);
      assert.match(await readBinary(`${fresh}/bin/outpost-agent`), /1\.0\.0/);
    });

    await t.step("the url source downloads the binary and checks its SHA-256", async () => {
      const fresh = `${scratch}/from-url`;
      const released = `${scratch}/dist-2.0.0/outpost-agent-${hostTarget()}`;
      const urlVars = {
        outpost_agent_source: "url",
        outpost_agent_release_base_url: `${probes.url}/release`,
        outpost_agent_release_sha256: { [hostTarget()]: await sha256Hex(released) },
        outpost_agent_bin_dir: `${fresh}/bin`,
        outpost_agent_config_dir: `${fresh}/etc`,
        outpost_agent_data_dir: `${fresh}/data`,
        outpost_agent_unit_dir: `${fresh}/systemd`,
      };
      const result = await play(run, "agent.yml", { version: "2.0.0", vars: urlVars });
      assert.equal(result.code, 0, describe(result));
      assert.match(await readBinary(`${fresh}/bin/outpost-agent`), /2\.0\.0/);
      assert.equal(fileMode(`${fresh}/bin/outpost-agent`), 0o755);
      assert.ok(!exists(`${fresh}/bin/outpost-agent.download`), "the download was left behind");

      const again = await play(run, "agent.yml", { version: "2.0.0", vars: urlVars });
      assert.equal(again.code, 0, describe(again));
      assert.equal(parseRecap(again.output, HOST).changed, 0, again.output);

      const tampered = await play(run, "agent.yml", {
        version: "2.0.0",
        vars: { ...urlVars, outpost_agent_release_sha256: { [hostTarget()]: "0".repeat(64) } },
      });
      assert.notEqual(tampered.code, 0, "a checksum mismatch must fail the run");
      assert.match(tampered.output, /checksum/i);
      assert.match(
        await readBinary(`${fresh}/bin/outpost-agent`),
        /2\.0\.0/,
        "a bad download must leave the installed binary alone",
      );
    });

    await t.step("no_log kept both tokens out of every run's output", () => {
      assert.ok(outputs.length >= 8, `only ${outputs.length} runs`);
      for (const output of outputs) assert.ok(!output.includes(SECRET_MARKER));
      assert.ok(outputs.some((output) => output.includes("'no_log: true'")), "no_log never hit");
    });
  } finally {
    await probes.close();
    await Deno.remove(scratch, { recursive: true });
  }
});
