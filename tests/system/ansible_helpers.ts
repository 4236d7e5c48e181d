/**
 * Helpers for the Ansible system tests: locating the tools (failing with the Debian package to
 * install when one is missing), running `ansible-playbook` with a scratch environment, and reading
 * its PLAY RECAP.
 *
 * @module
 */

/** Absolute path of the repository's `ansible/` directory (the tests run Ansible from there). */
export const ANSIBLE_DIR: string = new URL("../../ansible/", import.meta.url).pathname;

/** What a finished command printed and how it exited. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
  /** Standard output followed by standard error. */
  output: string;
}

/** Options for {@link runCommand}. */
export interface RunCommandOptions {
  /** Working directory (default {@link ANSIBLE_DIR}). */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Fails with an error naming the Debian package to install when `command` is not on the PATH.
 *
 * @example `await requireCommand("ansible-lint", "ansible-lint")`
 */
export async function requireCommand(command: string, debianPackage: string): Promise<void> {
  const probe = await new Deno.Command("sh", {
    args: ["-c", `command -v "$0"`, command],
    stdout: "null",
    stderr: "null",
  }).output();
  if (probe.code !== 0) {
    throw new Error(
      `Cannot run the test: '${command}' is not on the PATH; install the Debian package ` +
        `'${debianPackage}' (apt-get update && apt-get install -y ${debianPackage})`,
    );
  }
}

/** Runs a command to completion and returns its exit code and output. */
export async function runCommand(
  argv: string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const [command, ...args] = argv;
  const result = await new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ANSIBLE_DIR,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(result.stdout);
  const stderr = decoder.decode(result.stderr);
  return { code: result.code, stdout, stderr, output: stdout + stderr };
}

/**
 * Environment for `ansible-playbook`/`ansible-lint`: the repository's `ansible.cfg`, no colours,
 * and Ansible's temporary files under `scratchDir`.
 */
export function ansibleEnv(scratchDir: string): Record<string, string> {
  return {
    ANSIBLE_CONFIG: `${ANSIBLE_DIR}ansible.cfg`,
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_FORCE_COLOR: "0",
    ANSIBLE_LOCAL_TEMP: `${scratchDir}/ansible-local`,
    ANSIBLE_REMOTE_TEMP: `${scratchDir}/ansible-remote`,
    ANSIBLE_RETRY_FILES_ENABLED: "0",
    NO_COLOR: "1",
  };
}

/** Counters of one host's line in Ansible's PLAY RECAP. */
export interface Recap {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** Parses the PLAY RECAP line of `host`; throws (quoting the output's tail) when there is none. */
export function parseRecap(output: string, host: string): Recap {
  const pattern = new RegExp(
    `^${host}\\s*:\\s*ok=(\\d+)\\s+changed=(\\d+)\\s+unreachable=(\\d+)\\s+failed=(\\d+)` +
      `\\s+skipped=(\\d+)\\s+rescued=(\\d+)\\s+ignored=(\\d+)`,
    "m",
  );
  const match = output.match(pattern);
  if (!match) {
    throw new Error(`No PLAY RECAP line for '${host}' in the output:\n${output.slice(-3000)}`);
  }
  const [ok, changed, unreachable, failed, skipped, rescued, ignored] = match.slice(1).map(Number);
  return { ok, changed, unreachable, failed, skipped, rescued, ignored };
}

/** The compile target (`dist/outpost-agent-<target>`) of the machine running the tests. */
export function hostTarget(): string {
  return `${Deno.build.arch}-unknown-linux-gnu`;
}
