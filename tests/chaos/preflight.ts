/**
 * What the chaos suite needs from the machine, checked before anything starts. A missing piece
 * fails the run with a line naming exactly what is missing and how to get it — the suite never
 * skips a fault quietly.
 * @module
 */
import type { ImpairMethod } from "./topology.ts";
import type { BrokerKind } from "./cluster.ts";
import { findDynsecPlugin } from "../support/mosquitto_local.ts";
import { NATS_SERVER } from "../support/nats_cluster.ts";
import { faketimeEnv } from "./faults/faketime.ts";
import { run, tryRun } from "./shell.ts";

/** Where Debian's `faketime` package puts the preload library, per architecture. */
const LIBFAKETIME_CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
];

/** What the preflight found. */
export interface Preflight {
  libfaketime: string;
}

/** Thrown with every missing prerequisite, one per line. */
export class PreflightError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `chaos: cannot run: ${problems.length} prerequisite(s) missing:\n- ${problems.join("\n- ")}`,
    );
    this.name = "PreflightError";
  }
}

async function kernelConfig(option: string): Promise<string> {
  const result = await tryRun("sh", [
    "-c",
    `zcat /proc/config.gz 2>/dev/null | grep -E '^(# )?${option}[= ]'`,
  ]);
  return result.stdout.trim() || `${option}: unknown (no /proc/config.gz)`;
}

async function checkNetwork(impair: ImpairMethod, probe: string, problems: string[]) {
  const namespace = `outpost-chaos-probe-${probe}`;
  const link = `ocp${probe}`;
  try {
    const added = await tryRun("ip", ["netns", "add", namespace]);
    if (!added.success) {
      problems.push(
        `network namespaces: 'ip netns add' failed: ${added.stderr.trim()} (needs iproute2 and CONFIG_NET_NS)`,
      );
      return;
    }
    const veth = await tryRun("ip", [
      "link",
      "add",
      link,
      "type",
      "veth",
      "peer",
      "name",
      "p0",
      "netns",
      namespace,
    ]);
    if (!veth.success) {
      problems.push(
        `veth pairs: 'ip link add … type veth' failed: ${veth.stderr.trim()} (needs CONFIG_VETH)`,
      );
      return;
    }
    if (impair === "netem") {
      const netem = await tryRun("tc", [
        "qdisc",
        "add",
        "dev",
        link,
        "root",
        "netem",
        "delay",
        "10ms",
      ]);
      if (!netem.success) {
        problems.push(
          `tc netem: 'tc qdisc add dev ${link} root netem delay 10ms' failed: ${netem.stderr.trim()} — ` +
            `the kernel (${Deno.osRelease()}) has no sch_netem (${await kernelConfig(
              "CONFIG_NET_SCH_NETEM",
            )}), ` +
            "so packet loss and delay cannot be injected with netem. Use a kernel with sch_netem " +
            "(modprobe sch_netem), or run with --impair=nft (nftables random drop + tbf queueing delay; " +
            "needs the nftables package and CONFIG_NFT_NUMGEN)",
        );
      }
    } else {
      const nft = await tryRun(
        "ip",
        ["netns", "exec", namespace, "nft", "-f", "-"],
        "table inet probe {\n chain c {\n type filter hook output priority 0;\n numgen random mod 100 < 1 drop\n }\n}\n",
      );
      if (!nft.success) {
        problems.push(
          `nftables: loading a numgen drop rule failed: ${
            (nft.stderr || "nft not found").trim()
          } ` +
            "(apt-get install nftables; kernel needs CONFIG_NF_TABLES and CONFIG_NFT_NUMGEN)",
        );
      }
      const tbf = await tryRun("tc", [
        "qdisc",
        "add",
        "dev",
        link,
        "root",
        "tbf",
        "rate",
        "1mbit",
        "burst",
        "4kb",
        "latency",
        "1s",
      ]);
      if (!tbf.success) {
        problems.push(`tc tbf: ${tbf.stderr.trim()} (kernel needs CONFIG_NET_SCH_TBF)`);
      }
    }
  } finally {
    await tryRun("ip", ["link", "del", link]);
    await tryRun("ip", ["netns", "del", namespace]);
  }
}

async function checkTmpfs(problems: string[]) {
  const dir = await Deno.makeTempDir({ prefix: "outpost-chaos-probe-" });
  const mounted = await tryRun("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]);
  if (!mounted.success) {
    problems.push(
      `tmpfs: 'mount -t tmpfs' failed: ${mounted.stderr.trim()} (the disk-full fault needs it)`,
    );
  } else {
    await tryRun("umount", [dir]);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

async function checkFaketime(problems: string[]): Promise<string | undefined> {
  let library: string | undefined;
  for (const candidate of LIBFAKETIME_CANDIDATES) {
    try {
      await Deno.stat(candidate);
      library = candidate;
      break;
    } catch {
      // try the next
    }
  }
  if (!library) {
    problems.push(
      `libfaketime: none of ${
        LIBFAKETIME_CANDIDATES.join(", ")
      } exists (apt-get install faketime); ` +
        "the clock-skew fault shifts the agent's clock with it",
    );
    return undefined;
  }
  // libfaketime must shift what Date.now() returns inside Deno, or the skew fault proves nothing.
  const dir = await Deno.makeTempDir({ prefix: "outpost-chaos-probe-" });
  try {
    const file = `${dir}/clock`;
    await Deno.writeTextFile(file, "+1d\n");
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "console.log(Date.now())"],
      env: faketimeEnv(library, file),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const shifted = Number(new TextDecoder().decode(output.stdout).trim()) - Date.now();
    // The printed time is what counts. The exit status is not: once in a CI run the child printed
    // a correct +1 day and still exited non-zero with nothing on stderr (libfaketime at exit).
    if (!(Math.abs(shifted - 86_400_000) <= 600_000)) {
      problems.push(
        `libfaketime: ${library} did not shift Date.now() inside Deno by +1 day (shift seen: ${shifted} ms; ` +
          `exit code ${output.code}, signal ${output.signal ?? "none"}; ` +
          `${new TextDecoder().decode(output.stderr).trim().slice(0, 200)})`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  return library;
}

/** Checks root, namespaces, veth, the link impairment, tmpfs, libfaketime and the broker. */
export async function preflight(impair: ImpairMethod, broker: BrokerKind): Promise<Preflight> {
  const problems: string[] = [];
  if (Deno.uid() !== 0) {
    problems.push(
      `root: the suite creates network namespaces and mounts tmpfs; run it as root (uid is ${Deno.uid()})`,
    );
    throw new PreflightError(problems);
  }
  for (const tool of ["ip", "tc", "mount", "umount", "df"]) {
    if (!(await tryRun(tool, ["-V"])).stdout && !(await tryRun("which", [tool])).success) {
      problems.push(`${tool}: not found on PATH (apt-get install iproute2 util-linux coreutils)`);
    }
  }
  if (broker === "mosquitto") {
    for (const tool of ["mosquitto", "mosquitto_ctrl"]) {
      if (!(await tryRun("which", [tool])).success) {
        problems.push(
          `${tool}: not found (apt-get install mosquitto), or run with --broker=embedded`,
        );
      }
    }
    try {
      findDynsecPlugin();
    } catch (error) {
      problems.push(`mosquitto dynamic security: ${(error as Error).message}`);
    }
  }
  if (broker === "nats") {
    const version = await tryRun(NATS_SERVER, ["--version"]);
    if (!version.success) {
      problems.push(
        `${NATS_SERVER}: not found or failed (${
          (version.stderr || version.stdout).trim()
        }) (apt-get install nats-server, or set NATS_SERVER), or run with --broker=mosquitto`,
      );
    }
    const nft = await tryRun("nft", ["--version"]);
    if (!nft.success) {
      problems.push(
        "nft: not found (apt-get install nftables); broker partitions cut a NATS node off with it",
      );
    }
  }
  const probe = Math.floor(Math.random() * 0xffff).toString(16);
  await checkNetwork(impair, probe, problems);
  await checkTmpfs(problems);
  const library = await checkFaketime(problems);
  if (problems.length || !library) throw new PreflightError(problems);
  // Fail loudly later rather than here if `df` output changes; it is used to size the ballast.
  await run("df", ["--output=avail", "-B1", "/"]);
  return { libfaketime: library };
}
