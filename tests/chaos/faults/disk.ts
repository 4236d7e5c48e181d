/**
 * The agent's disk fills up and is freed again: ballast takes every free byte of the agent's
 * tmpfs, writes then go on until the agent answers 507, the disk stays full a while (the
 * workload keeps getting 507s, acks cannot be recorded), and the ballast goes.
 * @module
 */
import { run } from "../shell.ts";
import { type Fault, sleep } from "./types.ts";

async function availableBytes(path: string): Promise<number> {
  const output = await run("df", ["--output=avail", "-B1", path]);
  return Number(output.trim().split("\n").at(-1));
}

/** Writes up to `bytes` of ballast; stops quietly when the disk is full. */
async function fill(path: string, bytes: number): Promise<number> {
  const chunk = new Uint8Array(1024 * 1024).fill(0x5a);
  const file = await Deno.open(path, { write: true, create: true, append: true });
  let written = 0;
  try {
    while (written < bytes) {
      const n = await file.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)));
      written += n;
    }
  } catch {
    // ENOSPC: exactly what we want.
  } finally {
    file.close();
  }
  return written;
}

/** Fills the agent's disk, holds it full, frees it, checks that writes succeed again. */
export function diskFull(index: number, deviceId: string): Fault {
  return {
    kind: "disk_full",
    target: deviceId,
    // No restart while full: the episode is about a running agent.
    locks: [`agent:${index}`, `disk:${index}`],
    async run(context, rng) {
      const agent = context.cluster.agents[index];
      const target = { deviceId, url: agent.component.url };
      const ballast = `${agent.mountPoint}/ballast`;
      let full507 = 0;
      let acceptedWhileFilling = 0;
      try {
        const ballastBytes = await fill(ballast, await availableBytes(agent.mountPoint));
        // SQLite may still have room inside its WAL; large writes use it up.
        for (let attempt = 0; attempt < 60 && full507 === 0; attempt++) {
          const entry = await context.workload.writeReadings(target, 2000, {
            by: "fault:disk_full",
            unitLength: 16,
          });
          if (entry.status === 507) full507++;
          else if (entry.outcome === "acknowledged") acceptedWhileFilling += entry.count;
          await fill(ballast, await availableBytes(agent.mountPoint));
        }
        if (full507 === 0) {
          throw new Error(
            `the disk never filled: ${acceptedWhileFilling} readings accepted after ${ballastBytes} bytes of ballast`,
          );
        }
        const held = rng.int(1000, context.timing.maxDiskFullMs);
        await sleep(held);
        const during = context.workload.history.filter((e) =>
          e.agent === deviceId && e.status === 507
        ).length;
        await Deno.remove(ballast);
        for (let attempt = 0;; attempt++) {
          const probe = await context.workload.writeReadings(target, 1, { by: "fault:disk_full" });
          if (probe.outcome === "acknowledged") break;
          if (attempt >= 20) {
            throw new Error(
              `writes still fail after the disk was freed: status ${probe.status} ${probe.detail}`,
            );
          }
          await sleep(500);
        }
        context.counts.disk_full++;
        return `ballast ${ballastBytes} bytes; ${acceptedWhileFilling} readings fit, then 507 ` +
          `(${during} writes got 507 in total); full for ${held} ms; writes succeed again`;
      } finally {
        await Deno.remove(ballast).catch(() => {});
      }
    },
  };
}
