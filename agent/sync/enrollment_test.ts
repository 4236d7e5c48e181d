/**
 * The agent's side of the identity model: it generates and keeps a device secret, sends it
 * with every enrollment, and shows a held or refused enrollment in its sync state while it
 * keeps asking with backoff.
 */
import assert from "node:assert/strict";
import { createLogger } from "@outpost/platform/log";
import { openAgentStore } from "../store/open.ts";
import { DEVICE_SECRET_FILE, loadDeviceSecret } from "./identity.ts";
import { SyncService } from "./service.ts";

/** A fake cloud answering each enrollment with the next canned answer (the last repeats). */
function fakeCloud(answers: { status: number; body: unknown }[]) {
  const bodies: Record<string, unknown>[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    bodies.push(await req.json());
    const answer = answers[Math.min(bodies.length - 1, answers.length - 1)];
    return Response.json(answer.body, { status: answer.status });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, bodies, close: () => server.shutdown() };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function withAgent(
  cloudUrl: string,
  fn: (service: SyncService, dir: string, logs: string[]) => Promise<void>,
  enrollToken: string | null = "enroll-token-0123456789",
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "outpost-enroll-" });
  const { store, handle } = await openAgentStore(dir);
  const logs: string[] = [];
  const fast = { next: () => 20, reset() {}, attempt: 0 };
  const service = new SyncService({
    store,
    logger: createLogger({ write: (line) => logs.push(line) }),
    deviceId: "pi-1",
    dataDir: dir,
    cloudUrl,
    enrollToken: enrollToken ?? undefined,
    version: "test",
    backoff: fast,
    refusedBackoff: fast,
  });
  try {
    await service.start();
    await fn(service, dir, logs);
  } finally {
    await service.stop();
    await handle.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const PENDING = {
  status: 202,
  body: {
    status: "pending_approval",
    requestId: "req-1",
    deviceId: "pi-1",
    message: "an operator must approve request req-1",
  },
};

Deno.test("the device secret is generated once, kept 0600, and sent with every enrollment", async () => {
  const cloud = fakeCloud([PENDING]);
  try {
    await withAgent(cloud.url, async (_service, dir, logs) => {
      await until(() => cloud.bodies.length >= 2, "two enrollment attempts");
      const secret = await loadDeviceSecret(dir);
      assert.match(secret, /^[\w-]{43}$/);
      assert.equal((await Deno.stat(`${dir}/${DEVICE_SECRET_FILE}`)).mode! & 0o777, 0o600);
      assert.deepEqual(cloud.bodies.map((b) => b.deviceSecret), [secret, secret]);
      assert.doesNotMatch(logs.join("\n"), new RegExp(secret), "the secret is never logged");
    });
  } finally {
    await cloud.close();
  }
});

Deno.test("a held re-enrollment shows as pending_approval with the cloud's words, and is asked again", async () => {
  const cloud = fakeCloud([PENDING]);
  try {
    await withAgent(cloud.url, async (service) => {
      await until(() => cloud.bodies.length >= 3, "the agent to keep asking");
      const { state, lastError } = service.connection();
      assert.equal(state, "pending_approval");
      assert.match(
        lastError!,
        /waits for an operator's approval: an operator must approve request req-1/,
      );
    });
  } finally {
    await cloud.close();
  }
});

Deno.test("a refused enrollment shows as refused with the reason, and the agent keeps asking", async () => {
  const cloud = fakeCloud([{
    status: 403,
    body: {
      error: {
        code: "device_revoked",
        message: "Device 'pi-1' is revoked; an operator must reinstate it",
      },
    },
  }]);
  try {
    await withAgent(cloud.url, async (service) => {
      await until(() => cloud.bodies.length >= 2, "a second attempt");
      const { state, lastError } = service.connection();
      assert.equal(state, "refused");
      assert.match(lastError!, /refused \(403 device_revoked\): Device 'pi-1' is revoked/);
    });
  } finally {
    await cloud.close();
  }
});

Deno.test("without an enrollment token the agent still re-enrolls with its secret, and says when a token is needed", async () => {
  const cloud = fakeCloud([{
    status: 401,
    body: { error: { code: "unauthorized", message: "An enrollment token is required" } },
  }]);
  try {
    await withAgent(cloud.url, async (service) => {
      await until(() => cloud.bodies.length >= 1, "an attempt");
      assert.equal(cloud.bodies[0].token, undefined);
      assert.ok(cloud.bodies[0].deviceSecret);
      await until(() => service.connection().state === "refused", "the refusal");
      assert.match(
        service.connection().lastError!,
        /No OUTPOST_ENROLL_TOKEN set and the cloud requires one/,
      );
    }, null);
  } finally {
    await cloud.close();
  }
});
