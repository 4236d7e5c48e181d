/**
 * `deno task nats:init --out <dir>`: generates a NATS deployment's keys and server auth
 * include (cloud/broker/nats/init_files.ts). Wiring only.
 * @module
 */
import { parseArgs } from "node:util";
import { formatHelp, wantsHelp } from "@outpost/platform/settings";
import { ExistingKeys, INIT_FILES, writeNatsInit } from "./broker/nats/init_files.ts";

const HELP = formatHelp({
  summary: "Generates the NATS operator, system account and Outpost account keys of a new " +
    "deployment, the nats-server auth include and the cloud's seed settings.",
  usage: "deno task nats:init [options]",
  entries: [
    {
      flag: "out",
      value: "dir",
      description: "Where to write the files (required; never overwritten).",
    },
    {
      flag: "resolver-dir",
      value: "dir",
      description: "Where each nats-server node keeps account JWTs (its JetStream volume).",
      defaultText: "/data/jwt",
    },
  ],
  notes: [
    `Writes ${INIT_FILES.authConfig} (include it from every node's server.conf), ` +
    `${INIT_FILES.env} (the cloud's OUTPOST_NATS_*_SEED settings) and one .seed file per key ` +
    "(for the *_FILE settings), all mode 0600. Docs: docs/CLOUD.md.",
  ],
});

if (wantsHelp(Deno.args)) {
  console.log(HELP);
  Deno.exit(0);
}
let values: { out?: string; "resolver-dir"?: string };
try {
  values = parseArgs({
    args: Deno.args,
    options: { out: { type: "string" }, "resolver-dir": { type: "string" } },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (error) {
  console.error(
    `nats:init: ${(error as Error).message.split(". ")[0]} (--help explains the flags)`,
  );
  Deno.exit(2);
}
if (!values.out) {
  console.error("nats:init: --out <dir> is required (--help explains the flags)");
  Deno.exit(2);
}
try {
  const { keys, files } = await writeNatsInit(values.out, {
    resolverDir: values["resolver-dir"] ?? "/data/jwt",
  });
  console.log(`operator ${keys.operator.publicKey}`);
  console.log(`system account ${keys.systemAccount.publicKey}`);
  console.log(`outpost account ${keys.account.publicKey}`);
  for (const file of files) console.log(`wrote ${file}`);
} catch (error) {
  if (!(error instanceof ExistingKeys)) throw error;
  console.error(`nats:init: ${error.message}`);
  Deno.exit(1);
}
