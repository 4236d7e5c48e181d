/**
 * Running the system tools the chaos suite drives (ip, tc, nft, mount, df) with errors that
 * say which command failed and what it printed.
 * @module
 */

/** The result of a command that ran to the end. */
export interface CommandResult {
  success: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command args…` and returns its output whatever the exit code. */
export async function tryRun(
  command: string,
  args: string[],
  stdin?: string,
): Promise<CommandResult> {
  let child;
  try {
    child = new Deno.Command(command, {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    return { success: false, code: -1, stdout: "", stderr: (error as Error).message };
  }
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Runs `command args…`; throws naming the command and its stderr when it fails. */
export async function run(command: string, args: string[], stdin?: string): Promise<string> {
  const result = await tryRun(command, args, stdin);
  if (!result.success) {
    throw new Error(
      `'${command} ${args.join(" ")}' failed (exit ${result.code}): ${
        (result.stderr || result.stdout).trim()
      }`,
    );
  }
  return result.stdout;
}
