/**
 * Fleet operations over a simulated fleet (`deno task sim --fleet-ops`, and `deno task bench`):
 * a rollout and a job over every device, each timed from its creation until it ended with every
 * device's answer counted, against its same-run baseline: the same change done the way an
 * operator without rollouts would, one API call per device (32 in flight), until every device
 * answered. The cloud's RSS is sampled throughout. Counts are checked against what the simulated
 * devices themselves answered, so "exact" means no device was lost, doubled or miscounted.
 * @module
 */

/** What one simulated device answered so far. */
export interface SimTallies {
  /** Desired versions applied / failed. */
  applied: number;
  failed: number;
  /** Commands succeeded / failed. */
  succeeded: number;
  commandsFailed: number;
}

/** The fleet as the scenario sees it. */
export interface SimFleet {
  id: string;
  tallies: SimTallies;
  outbox: { lastSeq: number; ackedSeq: number };
}

/** Inputs of {@link runFleetOps}. */
export interface FleetOpsContext {
  cloudUrl: string;
  adminToken: string;
  devices: SimFleet[];
  /** Selects every simulated device. */
  selector: string;
  /** The simulated devices' id prefix (for the device list). */
  idPrefix: string;
  failPercent: number;
  say: (line: string) => void;
  /** The cloud process's RSS now, when the simulator started the cloud. */
  cloudRss: () => Promise<number | undefined>;
}

/** One operation against its baseline. */
export interface OperationFigures {
  /** From creation until it ended with every answer counted. */
  ms: number;
  /** The same over the per-device API calls. */
  baselineMs: number;
  /** The cloud's RSS at most during the operation (and its baseline). */
  cloudRssMaxBytes: number | undefined;
  /** The operation's final counts, from the API. */
  counts: Record<string, number>;
  state: string;
  /** Counts equal what the devices answered, and every device is accounted for. */
  exact: boolean;
}

/** Result of {@link runFleetOps}. */
export interface FleetOpsResult {
  rollout: OperationFigures;
  job: OperationFigures;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function api<T>(
  ctx: FleetOpsContext,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${ctx.cloudUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ctx.adminToken}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: await response.json() as T };
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]);
  }));
}

function sum(ctx: FleetOpsContext, pick: (t: SimTallies) => number): number {
  return ctx.devices.reduce((total, device) => total + pick(device.tallies), 0);
}

function drained(ctx: FleetOpsContext): boolean {
  return ctx.devices.every((device) => device.outbox.ackedSeq >= device.outbox.lastSeq);
}

/** Samples the cloud's RSS every 250 ms until `stop` is called; returns the maximum. */
function rssSampler(ctx: FleetOpsContext): { stop(): Promise<number | undefined> } {
  let max: number | undefined;
  let running = true;
  const loop = (async () => {
    while (running) {
      const rss = await ctx.cloudRss();
      if (rss !== undefined) max = Math.max(max ?? 0, rss);
      await sleep(250);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

/** Waits until `done()` holds (polling), or throws after `timeoutMs` naming `what`. */
async function until(done: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Runs the rollout and the job, each after its baseline. */
export async function runFleetOps(ctx: FleetOpsContext): Promise<FleetOpsResult> {
  const n = ctx.devices.length;
  const timeoutMs = Math.max(120_000, n * 60);

  // Baseline: one PUT per device, until every device answered it and its answer was stored.
  ctx.say(`baseline: ${n} desired-state PUTs, one per device…`);
  let rss = rssSampler(ctx);
  const answeredBefore = sum(ctx, (t) => t.applied + t.failed);
  let start = performance.now();
  await pool(ctx.devices, 32, async (device) => {
    const put = await api(ctx, "PUT", `/api/v1/devices/${device.id}/desired`, {
      logLevel: "info",
    });
    if (put.status !== 200) throw new Error(`PUT desired answered ${put.status}`);
  });
  await until(
    () => sum(ctx, (t) => t.applied + t.failed) - answeredBefore >= n && drained(ctx),
    timeoutMs,
    "every device to answer its PUT",
  );
  const rolloutBaselineMs = performance.now() - start;

  // The rollout: three waves, no bake.
  ctx.say(`rollout over ${n} devices…`);
  const appliedBefore = sum(ctx, (t) => t.applied);
  const failedBefore = sum(ctx, (t) => t.failed);
  start = performance.now();
  const created = await api<{ id: string; targeted: number }>(ctx, "POST", "/api/v1/rollouts", {
    name: `sim ${n}`,
    selector: ctx.selector,
    desired: { retentionDays: 14 },
    waves: [{ percent: 10 }, { percent: 50 }, { percent: 100 }],
    failureThresholdPercent: Math.min(100, ctx.failPercent * 2 + 5),
  });
  if (created.status !== 201) throw new Error(`POST rollout answered ${created.status}`);
  let rollout: { state: string; counts: Record<string, number> } = { state: "", counts: {} };
  await until(
    async () => {
      rollout = (await api<typeof rollout>(ctx, "GET", `/api/v1/rollouts/${created.body.id}`)).body;
      const answered = (rollout.counts.applied ?? 0) + (rollout.counts.failed ?? 0);
      return rollout.state !== "running" && answered === rollout.counts.targeted;
    },
    timeoutMs,
    "the rollout to end with every answer",
  );
  const rolloutMs = performance.now() - start;
  await until(() => drained(ctx), 30_000, "the devices' outboxes to drain");
  const rolloutRss = await rss.stop();
  const applied = sum(ctx, (t) => t.applied) - appliedBefore;
  const failed = sum(ctx, (t) => t.failed) - failedBefore;
  const rolloutFigures: OperationFigures = {
    ms: rolloutMs,
    baselineMs: rolloutBaselineMs,
    cloudRssMaxBytes: rolloutRss,
    counts: rollout.counts,
    state: rollout.state,
    exact: rollout.counts.targeted === n && rollout.counts.applied === applied &&
      rollout.counts.failed === failed && created.body.targeted === n,
  };
  ctx.say(
    `rollout ${rollout.state} in ${(rolloutMs / 1000).toFixed(1)} s (baseline ${
      (rolloutBaselineMs / 1000).toFixed(1)
    } s): ${JSON.stringify(rollout.counts)}; devices say applied ${applied}, failed ${failed}`,
  );

  // Baseline: one command per device through the API.
  ctx.say(`baseline: ${n} commands, one POST per device…`);
  rss = rssSampler(ctx);
  const commandsBefore = sum(ctx, (t) => t.succeeded + t.commandsFailed);
  start = performance.now();
  await pool(ctx.devices, 32, async (device) => {
    const post = await api(ctx, "POST", `/api/v1/devices/${device.id}/commands`, {
      name: "ping",
    });
    if (post.status !== 201) throw new Error(`POST command answered ${post.status}`);
  });
  await until(
    () => sum(ctx, (t) => t.succeeded + t.commandsFailed) - commandsBefore >= n && drained(ctx),
    timeoutMs,
    "every device to answer its command",
  );
  const jobBaselineMs = performance.now() - start;

  ctx.say(`job over ${n} devices…`);
  const succeededBefore = sum(ctx, (t) => t.succeeded);
  const commandsFailedBefore = sum(ctx, (t) => t.commandsFailed);
  start = performance.now();
  const job = await api<{ id: string; targeted: number }>(ctx, "POST", "/api/v1/jobs", {
    selector: ctx.selector,
    command: { name: "ping" },
  });
  if (job.status !== 201) throw new Error(`POST job answered ${job.status}`);
  let jobView: { state: string; counts: Record<string, number> } = { state: "", counts: {} };
  await until(
    async () => {
      jobView = (await api<typeof jobView>(ctx, "GET", `/api/v1/jobs/${job.body.id}`)).body;
      return jobView.state !== "running";
    },
    timeoutMs,
    "the job to end",
  );
  const jobMs = performance.now() - start;
  await until(() => drained(ctx), 30_000, "the devices' outboxes to drain");
  const jobRss = await rss.stop();
  const succeeded = sum(ctx, (t) => t.succeeded) - succeededBefore;
  const commandsFailed = sum(ctx, (t) => t.commandsFailed) - commandsFailedBefore;
  const jobFigures: OperationFigures = {
    ms: jobMs,
    baselineMs: jobBaselineMs,
    cloudRssMaxBytes: jobRss,
    counts: jobView.counts,
    state: jobView.state,
    exact: jobView.counts.targeted === n && jobView.counts.succeeded === succeeded &&
      jobView.counts.failed === commandsFailed && job.body.targeted === n,
  };
  ctx.say(
    `job ${jobView.state} in ${(jobMs / 1000).toFixed(1)} s (baseline ${
      (jobBaselineMs / 1000).toFixed(1)
    } s): ${
      JSON.stringify(jobView.counts)
    }; devices say succeeded ${succeeded}, failed ${commandsFailed}`,
  );
  return { rollout: rolloutFigures, job: jobFigures };
}
