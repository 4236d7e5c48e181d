import assert from "node:assert/strict";
import { ExistingKeys, INIT_FILES, writeNatsInit } from "./init_files.ts";
import { SigningKey } from "./nkey.ts";

Deno.test("nats:init writes keys, auth include and env file 0600, and never overwrites them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { keys, files } = await writeNatsInit(`${dir}/nats`, { resolverDir: "/data/jwt" });
    assert.equal(files.length, Object.keys(INIT_FILES).length);
    for (const file of files) assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, file);
    const env = await Deno.readTextFile(`${dir}/nats/${INIT_FILES.env}`);
    assert.match(env, new RegExp(`OUTPOST_NATS_ACCOUNT_SEED=${keys.account.seed}`));
    const seed = (await Deno.readTextFile(`${dir}/nats/${INIT_FILES.operatorSeed}`)).trim();
    assert.equal(SigningKey.fromSeed("operator", seed).publicKey, keys.operator.publicKey);
    const auth = await Deno.readTextFile(`${dir}/nats/${INIT_FILES.authConfig}`);
    assert.match(auth, new RegExp(`system_account: ${keys.systemAccount.publicKey}`));
    assert.match(auth, /dir: "\/data\/jwt"/);
    assert.match(auth, new RegExp(`${keys.account.publicKey}: ey`));
    await assert.rejects(
      writeNatsInit(`${dir}/nats`, { resolverDir: "/data/jwt" }),
      (error: Error) => error instanceof ExistingKeys && /never overwrites/.test(error.message),
    );
    assert.equal(await Deno.readTextFile(`${dir}/nats/${INIT_FILES.env}`), env);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
