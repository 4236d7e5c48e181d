/**
 * A throwaway PostgreSQL server for system tests: `initdb` into a temp dir, `postgres` on a free
 * loopback port with its own socket dir, databases on demand, and everything stopped and
 * removed afterwards. Never touches a system PostgreSQL. Also the PostgreSQL variant of the
 * exactly-once check of `verify.ts`.
 *
 * Needs the Debian package `postgresql` (server binaries in /usr/lib/postgresql/<major>/bin).
 * PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system
 * user (created by that package) via `setpriv`, with the temp dir handed to it.
 * @module
 */
import pg from "pg";
import { freePort } from "./process.ts";
import type { RecordMap } from "./verify.ts";

const DEBIAN_HINT = "install the Debian package 'postgresql' (apt-get install -y postgresql)";

/** A running throwaway server. */
export interface PostgresServer {
  /** The server's major version and binaries dir, e.g. `15 (/usr/lib/postgresql/15/bin)`. */
  describe: string;
  port: number;
  /** A `postgres://` URL of the maintenance database `postgres`, with user and password. */
  url: string;
  /** Creates an empty database and returns its `postgres://` URL. */
  createDatabase(name?: string): Promise<string>;
  /** Lines the server wrote so far (for failure messages). */
  output: string[];
  /** Fast shutdown, then removes the data dir. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startPostgres}. */
export interface StartPostgresOptions {
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
  /** Where the versioned server binaries live (default `/usr/lib/postgresql`, as on Debian). */
  binRoot?: string;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The newest `/usr/lib/postgresql/<major>/bin` holding `initdb` and `postgres`. */
async function findBinDir(root: string): Promise<{ dir: string; major: number }> {
  const majors: number[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      if (/^\d+$/.test(entry.name)) majors.push(Number(entry.name));
    }
  } catch {
    // no PostgreSQL at all
  }
  for (const major of majors.sort((a, b) => b - a)) {
    const dir = `${root}/${major}/bin`;
    if (await exists(`${dir}/initdb`) && await exists(`${dir}/postgres`)) return { dir, major };
  }
  throw new Error(
    `Cannot start a test PostgreSQL: no server binaries (initdb, postgres) in ${root}/<version>/bin; ${DEBIAN_HINT}`,
  );
}

/** Under root: the uid/gid of the `postgres` system user, which the server runs as. */
async function serverUser(): Promise<{ uid: number; gid: number } | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const passwd = await Deno.readTextFile("/etc/passwd");
  const line = passwd.split("\n").find((l) => l.startsWith("postgres:"));
  if (!line) {
    throw new Error(
      `Cannot start a test PostgreSQL as root: it refuses to run as root and there is no 'postgres' system user; ${DEBIAN_HINT}`,
    );
  }
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** A command run as the server user (directly when not root). */
function asServerUser(
  user: { uid: number; gid: number } | undefined,
  program: string,
  args: string[],
): { program: string; args: string[] } {
  if (!user) return { program, args };
  // setpriv execs the program itself, so the child's pid is the server's pid.
  return {
    program: "setpriv",
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--", program, ...args],
  };
}

async function run(command: { program: string; args: string[] }, what: string): Promise<void> {
  const result = await new Deno.Command(command.program, {
    args: command.args,
    stdout: "piped",
    stderr: "piped",
    env: { LC_ALL: "C" },
  }).output();
  if (!result.success) {
    const text = new TextDecoder().decode(result.stderr) + new TextDecoder().decode(result.stdout);
    throw new Error(`Cannot start a test PostgreSQL: ${what} failed:\n${text.slice(-2000)}`);
  }
}

async function collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    into.push(...lines);
  }
  if (buffered) into.push(buffered);
}

/** Starts a fresh server on 127.0.0.1 and a free port. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = await findBinDir(options.binRoot ?? "/usr/lib/postgresql");
  const user = await serverUser();
  const root = await Deno.makeTempDir({ prefix: "outpost-pg-" });
  const dataDir = `${root}/data`;
  const socketDir = `${root}/socket`;
  const password = crypto.randomUUID().replaceAll("-", "");
  const output: string[] = [];
  let child: Deno.ChildProcess | undefined;
  let collecting: Promise<unknown> = Promise.resolve();
  let stopped = false;

  async function stop(): Promise<void> {
    if (stopped) return;
    stopped = true;
    if (child) {
      try {
        child.kill("SIGINT"); // fast shutdown: rolls back open transactions, closes sessions
      } catch {
        // already exited
      }
      const timer = setTimeout(() => {
        try {
          child?.kill("SIGKILL");
        } catch {
          // already exited
        }
      }, 10_000);
      await child.status;
      clearTimeout(timer);
      await collecting;
    }
    await Deno.remove(root, { recursive: true });
  }

  try {
    await Deno.mkdir(socketDir);
    await Deno.writeTextFile(`${root}/pwfile`, `${password}\n`);
    if (user) {
      for (const path of [root, socketDir, `${root}/pwfile`]) {
        await Deno.chown(path, user.uid, user.gid);
      }
    }
    await run(
      asServerUser(user, `${bin.dir}/initdb`, [
        "--pgdata",
        dataDir,
        "--username",
        "outpost",
        "--pwfile",
        `${root}/pwfile`,
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-instructions",
      ]),
      "initdb",
    );
    const port = freePort();
    const settings: Record<string, string> = {
      listen_addresses: "127.0.0.1",
      port: String(port),
      unix_socket_directories: socketDir,
      max_connections: "100",
      ...options.settings,
    };
    const command = asServerUser(user, `${bin.dir}/postgres`, [
      "-D",
      dataDir,
      ...Object.entries(settings).flatMap(([name, value]) => ["-c", `${name}=${value}`]),
    ]);
    child = new Deno.Command(command.program, {
      args: command.args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C" },
    }).spawn();
    collecting = Promise.all([collect(child.stdout, output), collect(child.stderr, output)]);
    const url = `postgres://outpost:${password}@127.0.0.1:${port}/postgres`;
    await waitUntilReady(url, child, output);
    const server: PostgresServer = {
      describe: `${bin.major} (${bin.dir})`,
      port,
      url,
      output,
      async createDatabase(name = `t_${crypto.randomUUID().slice(0, 8)}`) {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name '${name}'`);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE ${name}`);
        } finally {
          await client.end();
        }
        return `postgres://outpost:${password}@127.0.0.1:${port}/${name}`;
      },
      stop,
    };
    return server;
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

async function waitUntilReady(
  url: string,
  child: Deno.ChildProcess,
  output: string[],
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 30_000;
  let last = "";
  while (Date.now() < deadline && !exited) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      await client.end().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `Cannot start a test PostgreSQL: the server ${
      exited ? "exited" : "did not accept connections within 30 s"
    } (last error: ${last})\n${output.slice(-20).join("\n")}`,
  );
}

/** Runs `fn` with a fresh server, stopping and removing it afterwards. */
export async function withPostgres<T>(
  fn: (server: PostgresServer) => Promise<T>,
  options: StartPostgresOptions = {},
): Promise<T> {
  const server = await startPostgres(options);
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/**
 * Every reading and event a PostgreSQL cloud database holds for `deviceId` (by seq), and
 * duplicates if any: the PostgreSQL variant of `cloudRecords` in `verify.ts`.
 */
export async function cloudRecordsPostgres(
  url: string,
  deviceId: string,
): Promise<{ map: RecordMap; duplicates: number[] }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const map: RecordMap = new Map();
    const duplicates: number[] = [];
    const add = (seq: number, fingerprint: string) => {
      if (map.has(seq)) duplicates.push(seq);
      map.set(seq, fingerprint);
    };
    const readings = await client.query(
      "SELECT seq, sensor, value FROM readings WHERE device_id = $1",
      [deviceId],
    );
    for (const row of readings.rows as { seq: string; sensor: string; value: number }[]) {
      add(Number(row.seq), `reading:${row.sensor}:${row.value}`);
    }
    const events = await client.query("SELECT seq, id FROM events WHERE device_id = $1", [
      deviceId,
    ]);
    for (const row of events.rows as { seq: string; id: string }[]) {
      add(Number(row.seq), `event:${row.id}`);
    }
    return { map, duplicates };
  } finally {
    await client.end();
  }
}
