/**
 * The chaos suite's short profile (tests/chaos/, docs/RELIABILITY.md) as part of test:system:
 * faults against real processes, network namespaces, a tmpfs and libfaketime, plus 10,000
 * fuzz inputs; the whole history is checked for lost, duplicated and phantom writes.
 */
import assert from "node:assert/strict";
import { REPO_ROOT } from "../support/process.ts";

/** The short profile must finish well inside CI's budget; it takes about 2-3 minutes here. */
const BUDGET_MS = 9.5 * 60_000;

/** The least the issue asks of one short run. */
const MINIMUMS: Record<string, number> = {
  agent_kills: 10,
  cloud_kills: 5,
  broker_restarts: 5,
  partitions: 3,
  disk_full: 1,
  skew: 1,
  fuzz: 10_000,
};

/** Prints each line as it comes (CI shows where a run stands) and keeps it. */
async function forward(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const complete = buffered.split("\n");
    buffered = complete.pop() ?? "";
    for (const line of complete) {
      console.log(line);
      into.push(line);
    }
  }
  if (buffered) into.push(buffered);
}

Deno.test("the chaos short profile loses, duplicates and invents nothing through every fault", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "tests/chaos/main.ts", "--profile=short"],
    cwd: REPO_ROOT,
    // These machines' kernel has no sch_netem: loss and delay go through nftables unless the
    // environment picks netem (OUTPOST_CHAOS_IMPAIR=netem) on a kernel that has it.
    env: { NO_COLOR: "1", OUTPOST_CHAOS_IMPAIR: Deno.env.get("OUTPOST_CHAOS_IMPAIR") ?? "nft" },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const lines: string[] = [];
  const reading = Promise.all([forward(child.stdout, lines), forward(child.stderr, lines)]);
  const timer = setTimeout(() => child.kill("SIGTERM"), BUDGET_MS);
  const status = await child.status;
  clearTimeout(timer);
  await reading;
  const summary = lines.findLast((line) => line.includes(" chaos: seed=")) ?? "";
  assert.ok(summary, `no summary line (exit ${status.code}):\n${lines.slice(-30).join("\n")}`);
  const fields = Object.fromEntries(
    [...summary.matchAll(/(\w+)=(\S+)/g)].map((match) => [match[1], match[2]]),
  );
  assert.deepEqual(
    { lost: fields.lost, duplicated: fields.duplicated, phantom: fields.phantom },
    { lost: "0", duplicated: "0", phantom: "0" },
    summary,
  );
  for (const [field, minimum] of Object.entries(MINIMUMS)) {
    assert.ok(
      Number(fields[field]) >= minimum,
      `${field}=${fields[field]} < ${minimum}: ${summary}`,
    );
  }
  const violations = lines.filter((line) => line.includes("VIOLATION:"));
  assert.equal(status.code, 0, `chaos run failed:\n${violations.join("\n") || summary}`);
  assert.equal(fields.result, "PASS", summary);
});
