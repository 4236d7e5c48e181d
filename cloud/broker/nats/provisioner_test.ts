import assert from "node:assert/strict";
import { createLogger } from "@outpost/platform/log";
import type { CloudStore } from "../../store/store.ts";
import { withStore } from "../../testing/fixtures.ts";
import { ProvisioningError } from "../credentials.ts";
import { decodeJwt } from "./jwt.ts";
import { deviceUserKey } from "./device_credentials.ts";
import { SigningKey } from "./nkey.ts";
import { natsProvisioner } from "./provisioner.ts";
import { AccountPublisher } from "./revocations.ts";
import { outpostAccountJwt } from "./server_config.ts";

const logger = createLogger({ level: "error" });

/** A fake cluster: records the account JWTs pushed; serves the last one to lookups. */
function fakeCluster() {
  const pushed: Record<string, number>[] = [];
  let served: string | undefined;
  let down = false;
  return {
    pushed,
    setDown(value: boolean) {
      down = value;
    },
    request(subject: string, payload: string): Promise<string> {
      if (down) return Promise.reject(new Error("no responders"));
      if (subject.endsWith(".CLAIMS.LOOKUP")) {
        return served ? Promise.resolve(served) : Promise.reject(new Error("not found"));
      }
      served = payload;
      pushed.push((decodeJwt(payload).nats.revocations ?? {}) as Record<string, number>);
      return Promise.resolve(JSON.stringify({ data: { code: 200, message: "jwt updated" } }));
    },
  };
}

function setup(
  store: CloudStore,
  lifetime?: { credentialLifetimeSeconds: number; now: () => number },
) {
  const keys = {
    operator: SigningKey.generate("operator"),
    account: SigningKey.generate("account"),
  };
  const cluster = fakeCluster();
  const publisher = new AccountPublisher({
    keys,
    revocations: () => store.brokerRevocations(),
    request: cluster.request,
    logger,
    ...lifetime,
  });
  return {
    keys,
    cluster,
    publisher,
    provisioner: natsProvisioner({
      account: keys.account,
      store,
      publisher,
      credentialLifetimeSeconds: lifetime?.credentialLifetimeSeconds,
    }),
  };
}

Deno.test("a first enrollment mints a JWT and writes nothing to the broker", async () => {
  await withStore(async (store) => {
    const { keys, cluster, provisioner } = setup(store);
    const credentials = await provisioner.provision("pi-1");
    assert.equal(credentials.username, "pi-1");
    assert.equal(credentials.passwordHash, null);
    assert.equal(decodeJwt(credentials.password).sub, deviceUserKey(keys.account, "pi-1"));
    await provisioner.endSessions("pi-1");
    assert.equal(cluster.pushed.length, 0);
  });
});

Deno.test("re-enrolling revokes the previous JWT on the broker; the new one is issued later", async () => {
  await withStore(async (store) => {
    const { keys, cluster, provisioner } = setup(store);
    const first = decodeJwt((await provisioner.provision("pi-1")).password);
    await provisioner.endSessions("pi-1");
    const second = decodeJwt((await provisioner.provision("pi-1")).password);
    await provisioner.endSessions("pi-1");
    assert.ok(Number(second.iat) > Number(first.iat), "same second: issued one second later");
    const user = deviceUserKey(keys.account, "pi-1");
    assert.deepEqual(cluster.pushed, [{ [user]: Number(first.iat) }]);
    // Already confirmed: ending sessions again pushes nothing.
    await provisioner.endSessions("pi-1");
    assert.equal(cluster.pushed.length, 1);
  });
});

Deno.test("revoking pushes every credential of the device revoked; unknown devices push nothing", async () => {
  await withStore(async (store) => {
    const { keys, cluster, provisioner } = setup(store);
    const jwt = decodeJwt((await provisioner.provision("pi-1")).password);
    await provisioner.revoke("pi-1");
    assert.deepEqual(cluster.pushed.at(-1), { [deviceUserKey(keys.account, "pi-1")]: jwt.iat });
    await provisioner.revoke("never-enrolled");
    assert.equal(cluster.pushed.length, 1);
  });
});

Deno.test("an id with '.' is refused as device_id_unsupported; an unreachable broker as broker_unavailable", async () => {
  await withStore(async (store) => {
    const { cluster, provisioner } = setup(store);
    await assert.rejects(provisioner.provision("pi.1"), (error: ProvisioningError) => {
      assert.equal(error.code, "device_id_unsupported");
      assert.match(error.message, /'\.'/);
      return true;
    });
    await provisioner.provision("pi-1");
    cluster.setDown(true);
    await assert.rejects(provisioner.revoke("pi-1"), (error: ProvisioningError) => {
      assert.equal(error.code, "broker_unavailable");
      return true;
    });
  });
});

Deno.test("reconcile pushes when the cluster lacks a revocation the database has, else not", async () => {
  await withStore(async (store) => {
    const { keys, cluster, publisher, provisioner } = setup(store);
    await provisioner.provision("pi-1");
    await store.revokeBrokerCredentials("pi-1"); // e.g. by another replica whose push was lost
    assert.equal(await publisher.reconcile(), true);
    assert.equal(cluster.pushed.length, 1);
    assert.equal(await publisher.reconcile(), false);
    // An older account JWT (no revocations) overwrote ours: the next reconcile repairs it.
    await cluster.request(`$SYS.REQ.ACCOUNT.X.CLAIMS.UPDATE`, outpostAccountJwt(keys, {}));
    assert.equal(await publisher.reconcile(), true);
    assert.deepEqual(Object.keys(cluster.pushed.at(-1)!), [deviceUserKey(keys.account, "pi-1")]);
  });
});

Deno.test("with a lifetime: JWTs expire, renewing an expired one tells the broker nothing, expired revocations are dropped", async () => {
  await withStore(async (store) => {
    let clock = Math.floor(Date.now() / 1000);
    const { keys, cluster, publisher, provisioner } = setup(store, {
      credentialLifetimeSeconds: 60,
      now: () => clock,
    });
    const first = decodeJwt((await provisioner.provision("pi-1")).password);
    assert.equal(Number(first.exp), Number(first.iat) + 60);
    await provisioner.endSessions("pi-1");

    // Still valid: re-enrolling revokes it, as without a lifetime.
    await provisioner.provision("pi-1");
    await provisioner.endSessions("pi-1");
    const user = deviceUserKey(keys.account, "pi-1");
    assert.deepEqual(cluster.pushed, [{ [user]: Number(first.iat) }]);

    // Renewal after expiry (the agent enrolls again when the node refuses its JWT): no push.
    clock += 61;
    await provisioner.provision("pi-1");
    await provisioner.endSessions("pi-1");
    assert.equal(cluster.pushed.length, 1, "renewing an expired JWT pushes nothing");

    // A revocation stays while what it covers may be valid, then goes at the next reconcile.
    // (The store issues at the real time: the clock goes back to it.)
    clock = Math.floor(Date.now() / 1000);
    await provisioner.provision("pi-2");
    await provisioner.revoke("pi-2");
    const user2 = deviceUserKey(keys.account, "pi-2");
    assert.ok(user2 in cluster.pushed.at(-1)!, "the revocation of pi-2 was pushed");
    assert.equal(await publisher.reconcile(), false, "nothing expired yet: no push");
    clock += 3600;
    assert.deepEqual(await publisher.current(), {});
    assert.equal(await publisher.reconcile(), true, "the cluster still held expired entries");
    assert.deepEqual(cluster.pushed.at(-1), {}, "expired revocations dropped from the account");
    assert.equal(await publisher.reconcile(), false);
  });
});
