// System test of the outpost_agent role against a real, throwaway Debian root (GitHub issue 7):
// a minimal root built with debootstrap (--variant=minbase plus python3, from the mirror the
// host's apt uses; cached under .data/chroot/), reached with Ansible's community.general.chroot
// connection, with the role's real settings: the system user is created, and, as systemd is not
// running in a chroot, the unit is enabled by a symlink in multi-user.target.wants.
// Needs root and the Debian packages ansible (for community.general), ansible-core, debootstrap,
// zstd and systemd (systemctl and systemd-analyze, used with --root, offline).

import assert from "node:assert/strict";
import {
  ansibleEnv,
  type CommandResult,
  ensureRootImage,
  findAptSource,
  hostTarget,
  parseRecap,
  removeTree,
  requireCommand,
  runCommand,
  unpackRootImage,
} from "./ansible_helpers.ts";

const HOST = "outpost-chroot";
const ENROLL_TOKEN = 'enroll-Chr00t-t0ken"$x';
const API_TOKEN = "api-Chr00t-t0ken";
/** A part of both secrets that must never show up in Ansible's output. */
const SECRET_MARKER = "Chr00t-t0ken";
const VERSION = "1.0.0";

const BINARY = "/usr/local/bin/outpost-agent";
const CONFIG_DIR = "/etc/outpost";
const ENV_FILE = "/etc/outpost/agent.env";
const DATA_DIR = "/var/lib/outpost";
const UNIT_FILE = "/etc/systemd/system/outpost-agent.service";
const WANTS_LINK = "/etc/systemd/system/multi-user.target.wants/outpost-agent.service";

function describe(result: CommandResult): string {
  return `exit code ${result.code}; output tail:\n${result.output.slice(-4000)}`;
}

/** Fails naming the Debian package when Ansible has no community.general.chroot connection. */
async function requireChrootConnection(scratch: string): Promise<void> {
  await requireCommand("ansible-doc", "ansible-core");
  const result = await runCommand(["ansible-doc", "-t", "connection", "-l"], {
    env: ansibleEnv(scratch),
  });
  if (!/^community\.general\.chroot\s/m.test(result.stdout)) {
    throw new Error(
      "Cannot run the test: Ansible has no 'community.general.chroot' connection plugin " +
        "(`ansible-doc -t connection -l` does not list it); install the Debian package 'ansible' " +
        "(apt-get update && apt-get install -y ansible), which ships the community.general collection",
    );
  }
}

/** An account of the chroot's /etc/passwd or /etc/group. */
interface Account {
  name: string;
  id: number;
  fields: string[];
}

async function readAccounts(root: string, file: "passwd" | "group"): Promise<Account[]> {
  const text = await Deno.readTextFile(`${root}/etc/${file}`);
  return text.split("\n").filter(Boolean).map((line) => {
    const fields = line.split(":");
    return { name: fields[0], id: Number(fields[2]), fields };
  });
}

/** Owner, group (names from the chroot's own databases) and permission bits of a path. */
interface Ownership {
  user: string;
  group: string;
  mode: number;
}

async function ownership(root: string, path: string): Promise<Ownership> {
  const info = await Deno.lstat(`${root}${path}`);
  assert.ok(info.uid !== null && info.gid !== null && info.mode !== null, `no stat for ${path}`);
  const users = await readAccounts(root, "passwd");
  const groups = await readAccounts(root, "group");
  return {
    user: users.find((user) => user.id === info.uid)?.name ?? `uid ${info.uid}`,
    group: groups.find((group) => group.id === info.gid)?.name ?? `gid ${info.gid}`,
    mode: info.mode & 0o777,
  };
}

/** Files below `dir` (not following links) whose content contains `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  const walk = async (path: string) => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else if (entry.isFile) {
        const content = await Deno.readFile(full);
        if (indexOf(content, bytes) >= 0) found.push(full);
      }
    }
  };
  try {
    await walk(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

Deno.test("the bootstrap mirror is read from apt's deb822 and one-line sources", () => {
  const deb822 = [
    "Types: deb-src",
    "URIs: http://src.example.test/debian",
    "Suites: bookworm",
    "Components: main",
    "",
    "Types: deb",
    "# a comment",
    "URIs: http://deb.debian.org/debian/",
    "Suites: bookworm bookworm-updates",
    "Components: main contrib",
    "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
    "",
    "Types: deb",
    "URIs: http://deb.debian.org/debian-security",
    "Suites: bookworm-security",
    "Components: main",
  ].join("\n");
  assert.deepEqual(findAptSource([{ path: "/a/debian.sources", text: deb822 }], "bookworm"), {
    mirror: "http://deb.debian.org/debian",
    suite: "bookworm",
    keyring: "/usr/share/keyrings/debian-archive-keyring.gpg",
    file: "/a/debian.sources",
  });
  const oneLine = [
    "# deb http://commented.example.test/debian bookworm main",
    "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example.test/debian bookworm main",
  ].join("\n");
  assert.deepEqual(findAptSource([{ path: "/a/sources.list", text: oneLine }], "bookworm"), {
    mirror: "http://mirror.example.test/debian",
    suite: "bookworm",
    keyring: "/k.gpg",
    file: "/a/sources.list",
  });
  const disabled = "Types: deb\nURIs: http://x.example.test/d\nSuites: bookworm\n" +
    "Components: main\nEnabled: no\n";
  assert.equal(findAptSource([{ path: "/a/x.sources", text: disabled }], "bookworm"), undefined);
  assert.equal(
    findAptSource([{ path: "/a/x.list.disabled", text: oneLine }], "bookworm"),
    undefined,
  );
  assert.equal(findAptSource([{ path: "/a/sources.list", text: oneLine }], "trixie"), undefined);
});

Deno.test("the outpost_agent role provisions a debootstrapped Debian root, idempotently", async (t) => {
  if (Deno.uid() !== 0) {
    throw new Error("Cannot run the test: debootstrap and chroot need root (run it as root)");
  }
  await requireCommand("ansible-playbook", "ansible-core");
  await requireCommand("debootstrap", "debootstrap");
  await requireCommand("zstd", "zstd");
  await requireCommand("chroot", "coreutils");
  await requireCommand("systemctl", "systemd");
  await requireCommand("systemd-analyze", "systemd");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-chroot-" });
  const outputs: string[] = [];
  try {
    await requireChrootConnection(scratch);
    const image = await ensureRootImage();
    const root = `${scratch}/root`;
    await unpackRootImage(image, root);
    const hostPasswd = await Deno.readTextFile("/etc/passwd");

    const dist = `${scratch}/dist`;
    await Deno.mkdir(dist);
    const standIn = `${dist}/outpost-agent-${hostTarget()}`;
    await Deno.writeTextFile(standIn, `#!/bin/sh\necho "outpost-agent ${VERSION}"\n`);
    await Deno.chmod(standIn, 0o755);

    const inventory = `${scratch}/inventory.yml`;
    await Deno.writeTextFile(
      inventory,
      [
        "outpost_bare:",
        "  hosts:",
        `    ${HOST}:`,
        "      ansible_connection: community.general.chroot",
        `      ansible_host: ${root}`,
        "      ansible_python_interpreter: /usr/bin/python3",
        "",
      ].join("\n"),
    );
    // Only what a real inventory sets: every other setting is the role's default (user creation
    // on, systemd managed, standard paths).
    const varsFile = `${scratch}/vars.json`;
    await Deno.writeTextFile(
      varsFile,
      JSON.stringify({
        outpost_agent_version: VERSION,
        outpost_agent_local_dist_dir: dist,
        outpost_agent_cloud_url: "https://cloud.example.test",
        outpost_agent_enroll_token: ENROLL_TOKEN,
        outpost_agent_api_token: API_TOKEN,
      }),
    );
    const play = async (...args: string[]): Promise<CommandResult> => {
      const started = Date.now();
      const result = await runCommand(
        ["ansible-playbook", "-i", inventory, "-e", `@${varsFile}`, "--diff", "-v", ...args],
        {
          env: {
            ...ansibleEnv(scratch),
            // Inside the chroot (ansibleEnv's default is a host path).
            ANSIBLE_REMOTE_TEMP: "/root/.ansible/tmp",
          },
        },
      );
      console.log(`  ansible-playbook ${args.join(" ")}: ${Date.now() - started} ms`);
      outputs.push(result.output);
      assert.ok(
        !result.output.includes(SECRET_MARKER),
        `a secret leaked into the output:\n${result.output}`,
      );
      return result;
    };

    await t.step("check mode on the pristine root fails nothing and creates nothing", async () => {
      const result = await play("--check", "playbooks/agent.yml");
      assert.equal(result.code, 0, describe(result));
      assert.equal(parseRecap(result.output, HOST).failed, 0);
      const users = await readAccounts(root, "passwd");
      assert.ok(!users.some((user) => user.name === "outpost"), "check mode created the user");
      for (const path of [BINARY, CONFIG_DIR, DATA_DIR, UNIT_FILE, WANTS_LINK]) {
        await assert.rejects(Deno.lstat(`${root}${path}`), Deno.errors.NotFound, path);
      }
    });

    await t.step("a first run lays down user, binary, config, data dir and unit", async () => {
      const result = await play("playbooks/agent.yml");
      assert.equal(result.code, 0, describe(result));
      const recap = parseRecap(result.output, HOST);
      assert.equal(recap.failed, 0);
      assert.ok(recap.changed > 0, "nothing changed on a first run");
      assert.match(
        result.output,
        /TASK \[outpost_agent : Enable and start the agent\][^\n]*\nskipping/,
      );

      const group = (await readAccounts(root, "group")).find((entry) => entry.name === "outpost");
      assert.ok(group, "no outpost group in the chroot's /etc/group");
      const user = (await readAccounts(root, "passwd")).find((entry) => entry.name === "outpost");
      assert.ok(user, "no outpost user in the chroot's /etc/passwd");
      const [, , uid, gid, , home, shell] = user.fields;
      assert.ok(Number(uid) > 0 && Number(uid) < 1000, `not a system uid: ${uid}`);
      assert.equal(Number(gid), group.id, "the user's primary group is not outpost");
      assert.equal(home, DATA_DIR);
      assert.equal(shell, "/usr/sbin/nologin");
      assert.ok((await Deno.stat(`${root}/usr/sbin/nologin`)).isFile, "no nologin in the root");
      const shadow = (await Deno.readTextFile(`${root}/etc/shadow`)).split("\n")
        .find((line) => line.startsWith("outpost:"));
      assert.match(shadow ?? "", /^outpost:[!*]/, "the outpost account has a usable password");
      assert.equal(await Deno.readTextFile("/etc/passwd"), hostPasswd, "the host was changed");

      assert.deepEqual(await ownership(root, BINARY), { user: "root", group: "root", mode: 0o755 });
      const ran = await runCommand(["chroot", root, BINARY], { cwd: "/" });
      assert.equal(ran.code, 0, describe(ran));
      assert.equal(ran.stdout.trim(), `outpost-agent ${VERSION}`);

      assert.deepEqual(await ownership(root, CONFIG_DIR), {
        user: "root",
        group: "outpost",
        mode: 0o750,
      });
      assert.deepEqual(await ownership(root, ENV_FILE), {
        user: "root",
        group: "root",
        mode: 0o600,
      });
      const env = await Deno.readTextFile(`${root}${ENV_FILE}`);
      assert.ok(env.includes(`OUTPOST_DATA_DIR="${DATA_DIR}"`), env);
      assert.match(env, new RegExp(`^OUTPOST_DEVICE_ID="${HOST}"$`, "m"));
      assert.ok(env.includes('OUTPOST_ENROLL_TOKEN="enroll-Chr00t-t0ken\\"\\$x"'), env);
      assert.ok(env.includes(`OUTPOST_API_TOKEN="${API_TOKEN}"`), env);

      assert.deepEqual(await ownership(root, DATA_DIR), {
        user: "outpost",
        group: "outpost",
        mode: 0o750,
      });

      assert.deepEqual(await ownership(root, UNIT_FILE), {
        user: "root",
        group: "root",
        mode: 0o644,
      });
      const unit = await Deno.readTextFile(`${root}${UNIT_FILE}`);
      for (
        const line of [
          "User=outpost",
          "Group=outpost",
          `ExecStart=${BINARY}`,
          `EnvironmentFile=${ENV_FILE}`,
          `ReadWritePaths=${DATA_DIR}`,
          "WantedBy=multi-user.target",
        ]
      ) {
        assert.ok(unit.includes(`${line}\n`), `unit lacks ${line}:\n${unit}`);
      }

      assert.ok((await Deno.lstat(`${root}${WANTS_LINK}`)).isSymlink, `${WANTS_LINK} is no link`);
      assert.equal(await Deno.readLink(`${root}${WANTS_LINK}`), UNIT_FILE);
    });

    await t.step("systemd, offline with --root, sees the unit enabled and valid", async () => {
      const enabled = await runCommand(
        ["systemctl", `--root=${root}`, "is-enabled", "outpost-agent.service"],
        { cwd: "/" },
      );
      assert.equal(enabled.stdout.trim(), "enabled", describe(enabled));
      // --recursive-errors=no: the minbase root has no systemd, hence no sysinit.target to load.
      // Still checked: the unit parses, and ExecStart= exists and is executable inside the root.
      const verify = await runCommand(
        [
          "systemd-analyze",
          "verify",
          `--root=${root}`,
          "--recursive-errors=no",
          "--man=no",
          "outpost-agent.service",
        ],
        { cwd: "/" },
      );
      assert.equal(verify.code, 0, describe(verify));
      assert.equal(verify.output.trim(), "", `systemd-analyze warned:\n${verify.output}`);
    });

    await t.step("a second run changes nothing", async () => {
      const result = await play("playbooks/agent.yml");
      assert.equal(result.code, 0, describe(result));
      assert.equal(parseRecap(result.output, HOST).changed, 0, result.output);
    });

    await t.step("the tokens are in agent.env only, and in no output", async () => {
      assert.equal(outputs.length, 3);
      for (const output of outputs) assert.ok(!output.includes(SECRET_MARKER));
      assert.ok(outputs.some((output) => output.includes("'no_log: true'")), "no_log never hit");
      const holders: string[] = [];
      for (const dir of ["etc", "root", "tmp", "var/tmp", "var/lib", "var/log", "usr/local"]) {
        holders.push(...await filesContaining(`${root}/${dir}`, SECRET_MARKER));
      }
      assert.deepEqual(holders, [`${root}${ENV_FILE}`]);
    });
  } finally {
    await removeTree(scratch);
  }
});

Deno.test("the outpost_node role prepares a node's data directory for the agent DaemonSet, idempotently", async (t) => {
  if (Deno.uid() !== 0) {
    throw new Error("Cannot run the test: debootstrap and chroot need root (run it as root)");
  }
  await requireCommand("ansible-playbook", "ansible-core");
  await requireCommand("debootstrap", "debootstrap");
  await requireCommand("zstd", "zstd");
  const scratch = await Deno.makeTempDir({ prefix: "outpost-ansible-node-" });
  const node = "outpost-k8s-node";
  try {
    await requireChrootConnection(scratch);
    const root = `${scratch}/root`;
    await unpackRootImage(await ensureRootImage(), root);
    const inventory = `${scratch}/inventory.yml`;
    await Deno.writeTextFile(
      inventory,
      [
        "kubeedge_edges:",
        "  hosts:",
        `    ${node}:`,
        "      ansible_connection: community.general.chroot",
        `      ansible_host: ${root}`,
        "      ansible_python_interpreter: /usr/bin/python3",
        "",
      ].join("\n"),
    );
    // The K3s and KubeEdge roles pull in outpost_node as a dependency (ansible_test.ts checks
    // that); they download and join clusters, so the chroot runs outpost_node on its own.
    const playbook = `${scratch}/node.yml`;
    await Deno.writeTextFile(
      playbook,
      [
        "- name: Prepare a node for the agent DaemonSet",
        "  hosts: kubeedge_edges",
        "  gather_facts: false",
        "  roles:",
        "    - role: outpost_node",
        "",
      ].join("\n"),
    );
    const play = async (...args: string[]): Promise<CommandResult> =>
      await runCommand(["ansible-playbook", "-i", inventory, "--diff", ...args, playbook], {
        env: { ...ansibleEnv(scratch), ANSIBLE_REMOTE_TEMP: "/root/.ansible/tmp" },
      });
    const hostPath = `${root}${DATA_DIR}`;
    const daemonSetOwner = { user: "uid 65532", group: "gid 65532", mode: 0o750 };

    await t.step("check mode creates nothing", async () => {
      const result = await play("--check");
      assert.equal(result.code, 0, describe(result));
      await assert.rejects(Deno.lstat(hostPath), Deno.errors.NotFound);
    });

    await t.step("a run creates /var/lib/outpost for uid/gid 65532, mode 0750", async () => {
      const result = await play();
      assert.equal(result.code, 0, describe(result));
      assert.equal(parseRecap(result.output, node).changed, 1, result.output);
      assert.deepEqual(await ownership(root, DATA_DIR), daemonSetOwner);
    });

    await t.step("a second run changes nothing; a wrong owner or mode is put right", async () => {
      const again = await play();
      assert.equal(parseRecap(again.output, node).changed, 0, again.output);
      await Deno.chown(hostPath, 0, 0);
      await Deno.chmod(hostPath, 0o755);
      const fixed = await play();
      assert.equal(fixed.code, 0, describe(fixed));
      assert.equal(parseRecap(fixed.output, node).changed, 1, fixed.output);
      assert.deepEqual(await ownership(root, DATA_DIR), daemonSetOwner);
    });

    await t.step("a node that also has the systemd agent is refused, and says why", async () => {
      await Deno.mkdir(`${root}/etc/systemd/system`, { recursive: true });
      await Deno.writeTextFile(`${root}${UNIT_FILE}`, "[Service]\n");
      const result = await play();
      assert.notEqual(result.code, 0, describe(result));
      assert.match(result.output, /both write \/var\/lib\/outpost/);
      assert.equal(parseRecap(result.output, node).failed, 1);
    });
  } finally {
    await removeTree(scratch);
  }
});
