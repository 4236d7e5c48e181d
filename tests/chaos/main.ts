/**
 * `deno task test:chaos [flags]`: the fault-injection suite. Prints a progress line per fault
 * and one summary line; exits 1 on any violation, 2 on bad flags. See docs/RELIABILITY.md.
 * @module
 */
import { runChaos } from "./chaos.ts";
import { parseChaosArgs, UsageError } from "./options.ts";

async function main(): Promise<number> {
  let options;
  try {
    options = parseChaosArgs(Deno.args, Deno.env.toObject());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(error.message);
    return 2;
  }
  const report = await runChaos(options);
  return report.passed ? 0 : 1;
}

Deno.exit(await main());
