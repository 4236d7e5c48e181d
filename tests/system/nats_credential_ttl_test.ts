/**
 * Device JWTs with a lifetime on NATS (`OUTPOST_NATS_CREDENTIAL_TTL`): the node refuses an
 * expired JWT, the agent enrolls again with its device secret and carries on syncing, and that
 * renewal adds no revocation to the account JWT (an expired JWT needs none), so the revocation
 * list holds one lifetime's revocations instead of growing towards NATS's 1 MB JWT limit.
 * A real nats-server, cloud and agent process.
 */
import assert from "node:assert/strict";
import { decodeJwt } from "@outpost/cloud/broker/nats/jwt";
import { eventually } from "../support/stack.ts";
import { storedMqttCredentials, withNatsAgent } from "./nats_helpers.ts";

async function storedPassword(dataDir: string): Promise<string> {
  return (await storedMqttCredentials(dataDir)).password;
}

Deno.test("NATS: an expired device JWT is renewed by enrolling again; the renewal revokes nothing", async () => {
  await withNatsAgent("ttl-1", { OUTPOST_NATS_CREDENTIAL_TTL: "3s" }, async ({ cloud, agent }) => {
    const online = async () =>
      (await cloud.admin<{ online: boolean }>("/api/v1/devices/ttl-1")).body.online;
    await eventually(online, "ttl-1 online", 60_000);
    const first = await storedPassword(agent.dataDir);
    const claims = decodeJwt(first);
    assert.equal(
      Number(claims.exp) - Number(claims.iat),
      3,
      "the JWT lives OUTPOST_NATS_CREDENTIAL_TTL",
    );

    await eventually(
      async () => (await storedPassword(agent.dataDir).catch(() => first)) !== first,
      "the agent enrolled again after its JWT expired",
      30_000,
    );
    assert.ok(
      agent.process.output.some((line) => line.includes("enrolling again")),
      "the agent says why it enrolls again",
    );
    const written = await fetch(`${agent.url}/api/v1/readings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([{ sensor: "t", value: 21.5 }]),
    });
    assert.equal(written.status, 201, await written.text());
    await eventually(
      async () => {
        const sync = await (await fetch(`${agent.url}/api/v1/sync`)).json();
        return sync.lastSeq > 0 && sync.ackedSeq === sync.lastSeq;
      },
      "the reading written after the renewal was acked",
      30_000,
    );
    await eventually(online, "ttl-1 online with its renewed JWT", 30_000);

    const pushes = cloud.process.output.filter((line) =>
      line.includes('"msg":"account JWT pushed to NATS"')
    );
    assert.ok(
      pushes.every((line) => line.includes('"revocations":0')),
      `renewing an expired JWT pushed no revocation: ${pushes.join("\n")}`,
    );
    assert.ok(
      cloud.process.output.some((line) => line.includes("password rotated")),
      "the cloud rotated the device's credentials",
    );
    console.log(
      agent.process.output.filter((line) =>
        /broker error|enrolling again|broker connected|enrolled/.test(line)
      ).map((line) => line.slice(0, 240)).join("\n"),
    );
  });
});
