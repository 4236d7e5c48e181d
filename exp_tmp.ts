import mqtt from "mqtt";
import { connect } from "@nats-io/transport-node";
import { SigningKey } from "./cloud/broker/nats/nkey.ts";
import { userJwt } from "./cloud/broker/nats/jwt.ts";
import { outpostAccountJwt, renderAuthConfig } from "./cloud/broker/nats/server_config.ts";

const dir = await Deno.makeTempDir();
const keys = { operator: SigningKey.generate("operator"), systemAccount: SigningKey.generate("account"), account: SigningKey.generate("account") };
await Deno.writeTextFile(`${dir}/auth.conf`, renderAuthConfig(keys, { resolverDir: `${dir}/jwt` }));
await Deno.writeTextFile(`${dir}/server.conf`, `listen: 127.0.0.1:14222\nserver_name: n1\njetstream { store_dir: "${dir}/js" }\nmqtt { listen: 127.0.0.1:11883 }\ninclude auth.conf\n`);
const proc = new Deno.Command("nats-server", { args: ["-c", `${dir}/server.conf`], stderr: "piped", stdout: "piped" }).spawn();
const errs: string[] = [];
(async () => { for await (const c of proc.stderr.pipeThrough(new TextDecoderStream())) errs.push(c); })();
await new Promise((r) => setTimeout(r, 1200));

function dev(id: string, iat?: number) {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const u = new SigningKey("user", raw);
  return { pub: u.publicKey, jwt: userJwt(keys.account, { subject: u.publicKey, name: id, issuedAt: iat }, {
    bearer_token: true, allowed_connection_types: ["MQTT"],
    pub: { allow: [`outpost.v1.${id}.up.>`] },
    sub: { allow: [`outpost.v1.${id}.down`, `outpost.v1.${id}.down.>`, "$MQTT.sub.>"] },
  }) };
}
const sysUser = SigningKey.generate("user");
const sysJwt = userJwt(keys.systemAccount, { subject: sysUser.publicKey, name: "cloud-sys" }, {});
const nc = await connect({ servers: "127.0.0.1:14222", authenticator: (nonce?: string) => ({ jwt: sysJwt, nkey: sysUser.publicKey, sig: Buffer.from(sysUser.sign(new TextEncoder().encode(nonce!))).toString("base64url") }) as never });
import { Buffer } from "node:buffer";
console.log("sys connected");

const a = dev("a");
const c1 = await mqtt.connectAsync("mqtt://127.0.0.1:11883", { protocolVersion: 4, clientId: "a", username: "x", password: a.jwt, reconnectPeriod: 0 });
console.log("a connected");
console.log("own", (await c1.subscribeAsync("outpost/v1/a/down/#", { qos: 1 })).map((g) => g.qos));
try { await c1.subscribeAsync("outpost/v1/b/down/#", { qos: 1 }); console.log("other granted!!"); } catch (e) { console.log("other sub refused", (e as Error).message); }
await c1.publishAsync("outpost/v1/a/up/batch", "x", { qos: 1 });
console.log("pub own ok");
// future iat
const f = dev("f", Math.floor(Date.now() / 1000) + 2);
try { const c = await mqtt.connectAsync("mqtt://127.0.0.1:11883", { protocolVersion: 4, clientId: "f", username: "x", password: f.jwt, reconnectPeriod: 0 }); console.log("future iat accepted"); await c.endAsync(); } catch (e) { console.log("future iat refused", (e as Error).message); }
// revoke a
c1.on("close", () => console.log("a closed at", performance.now() - t0));
const t0 = performance.now();
const now = Math.floor(Date.now() / 1000);
for (const iat of [now, now]) {
  const accJwt = outpostAccountJwt(keys, { [a.pub]: now }, iat);
  const reply = await nc.request(`$SYS.REQ.ACCOUNT.${keys.account.publicKey}.CLAIMS.UPDATE`, accJwt, { timeout: 3000 });
  console.log("update reply", reply.string(), performance.now() - t0);
}
// older iat
const older = outpostAccountJwt(keys, {}, now - 10);
const r2 = await nc.request(`$SYS.REQ.ACCOUNT.${keys.account.publicKey}.CLAIMS.UPDATE`, older, { timeout: 3000 });
console.log("older reply", r2.string());
await new Promise((r) => setTimeout(r, 300));
try { const c = await mqtt.connectAsync("mqtt://127.0.0.1:11883", { protocolVersion: 4, clientId: "a2", username: "x", password: a.jwt, reconnectPeriod: 0 }); console.log("revoked accepted!!"); await c.endAsync(); } catch (e) { console.log("revoked refused", (e as Error).message); }
await nc.close();
proc.kill("SIGKILL"); await proc.status;
console.log(errs.join("").split("\n").filter((l) => /ERR|WRN|revok/i.test(l)).slice(0, 15).join("\n"));
