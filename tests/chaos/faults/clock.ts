/**
 * The device clock jumps a day ahead or behind while the agent runs (libfaketime reads the
 * agent's clock file every second), stays wrong a while — through whatever other faults
 * happen meanwhile — and jumps back. The sync must not care: order is by seq, never by time.
 * @module
 */
import type { FaultContext } from "./types.ts";
import { type Fault, sleep } from "./types.ts";

const DAY_MS = 86_400_000;
/** How far the agent's clock may be from the expected offset and still count as shifted. */
const TOLERANCE_MS = 600_000;

/**
 * Writes an event and reads back its `createdAt` (the agent's Date.now()) until the agent's
 * clock is `expectedMs` off the real one; proves libfaketime really moved the clock.
 */
async function awaitOffset(
  context: FaultContext,
  index: number,
  expectedMs: number,
): Promise<number> {
  const agent = context.cluster.agents[index];
  const target = { deviceId: agent.deviceId, url: agent.component.url };
  let seen = NaN;
  for (let attempt = 0; attempt < 40; attempt++) {
    const before = Date.now();
    const entry = await context.workload.writeEvent(target, "fault:skew");
    if (entry.createdAt) {
      seen = Date.parse(entry.createdAt) - before;
      if (Math.abs(seen - expectedMs) < TOLERANCE_MS) return seen;
    }
    await sleep(500);
  }
  throw new Error(
    `the agent's clock is not ${expectedMs} ms off (last seen ${seen} ms): libfaketime did not shift Date.now() inside the agent`,
  );
}

/** Skews agent `index`'s clock by a day, `ahead` or behind. */
export function skew(index: number, deviceId: string, ahead: boolean): Fault {
  return {
    kind: "skew",
    target: deviceId,
    locks: [`clock:${index}`],
    async run(context, rng) {
      const file = context.cluster.agents[index].clockFile;
      const offset = ahead ? DAY_MS : -DAY_MS;
      await Deno.writeTextFile(file, ahead ? "+1d\n" : "-1d\n");
      let seen: number;
      try {
        seen = await awaitOffset(context, index, offset);
        await sleep(rng.int(2000, context.timing.maxSkewMs));
      } finally {
        await Deno.writeTextFile(file, "+0\n");
      }
      await awaitOffset(context, index, 0);
      context.counts.skew++;
      return `clock ${ahead ? "+1d" : "-1d"} (agent saw ${
        (seen / 3_600_000).toFixed(2)
      } h), back to real time`;
    },
  };
}
