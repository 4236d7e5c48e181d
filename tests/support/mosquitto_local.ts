/**
 * Mosquitto for local use (development, system tests), from the same config the cluster runs:
 * `k8s/base/mosquitto/mosquitto.conf` with its paths, listeners and plugin location rewritten
 * for this machine, plus the dynamic-security file with the admin the cloud logs in as.
 *
 * ```sh
 * deno run -A tests/support/mosquitto_local.ts --dir .data/mosquitto --port 1884
 * mosquitto -c .data/mosquitto/mosquitto.conf
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomPassword } from "@outpost/cloud/broker/credentials";

/** The broker config the cluster runs; the one source of Mosquitto settings. */
export const SHIPPED_CONFIG = fileURLToPath(
  new URL("../../k8s/base/mosquitto/mosquitto.conf", import.meta.url),
);
/** File name of the dynamic-security configuration inside the data dir. */
export const DYNSEC_FILE = "dynamic-security.json";

/** Options of {@link renderMosquittoConfig}. */
export interface MosquittoConfigOptions {
  /** Holds the persistence database and the dynsec file; absolute. */
  dataDir: string;
  /** Address of every listener; default 127.0.0.1. */
  host?: string;
  /** Port of the plaintext listener. */
  port: number;
  /** The TLS listener; without it the config's TLS listener is left out. */
  tls?: { port: number; certFile: string; keyFile: string };
  /** Path of `mosquitto_dynamic_security.so` here; see {@link findDynsecPlugin}. */
  pluginPath: string;
  /** `user` directive; Mosquitto started as root otherwise switches to user "mosquitto". */
  user?: string;
}

const PATH_DIRECTIVES = new Set(["plugin", "plugin_opt_config_file", "persistence_location"]);

/**
 * Rewrites the shipped config for this machine. Every directive that names a path or a port is
 * replaced; anything else is kept as written, so what tests run is what the cluster runs.
 * @throws Error naming the directive when the template no longer has the expected shape.
 */
export function renderMosquittoConfig(template: string, options: MosquittoConfigOptions): string {
  const host = options.host ?? "127.0.0.1";
  const lines = template.split("\n");
  const out: string[] = ["# Rendered for local use from k8s/base/mosquitto/mosquitto.conf."];
  if (options.user) out.push(`user ${options.user}`);
  const seen = new Set<string>();
  let skipping = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const [directive, ...rest] = line.trim().split(/\s+/);
    if (directive === "" || directive.startsWith("#")) {
      if (!skipping) out.push(line);
      continue;
    }
    if (directive === "listener") {
      const tlsBlock = blockHas(lines, i, "certfile");
      skipping = tlsBlock && !options.tls;
      if (skipping) continue;
      const port = tlsBlock ? options.tls!.port : options.port;
      seen.add(tlsBlock ? "listener (TLS)" : "listener");
      out.push(`listener ${port} ${host}`);
      continue;
    }
    if (skipping) continue;
    seen.add(directive);
    if (directive === "plugin") out.push(`plugin ${options.pluginPath}`);
    else if (directive === "plugin_opt_config_file") {
      out.push(`plugin_opt_config_file ${join(options.dataDir, DYNSEC_FILE)}`);
    } else if (directive === "persistence_location") {
      out.push(`persistence_location ${options.dataDir.replace(/\/?$/, "/")}`);
    } else if (directive === "certfile") out.push(`certfile ${options.tls!.certFile}`);
    else if (directive === "keyfile") out.push(`keyfile ${options.tls!.keyFile}`);
    else if (rest.some((word) => word.startsWith("/"))) {
      throw new Error(
        `Cannot render ${SHIPPED_CONFIG}: directive '${directive}' names a path this renderer does not rewrite: '${line.trim()}'`,
      );
    } else out.push(line);
  }
  const expected = [...PATH_DIRECTIVES, "listener", ...(options.tls ? ["listener (TLS)"] : [])];
  for (const directive of expected) {
    if (!seen.has(directive)) {
      throw new Error(`Cannot render ${SHIPPED_CONFIG}: it has no '${directive}' directive`);
    }
  }
  // Small acks right after a PUBACK otherwise wait for Nagle and the peer's delayed ACK.
  if (!seen.has("set_tcp_nodelay")) out.push("set_tcp_nodelay true");
  return out.join("\n").replace(/\n*$/, "\n");
}

/** True when the listener block starting at `start` has `directive`. */
function blockHas(lines: string[], start: number, directive: string): boolean {
  for (let i = start + 1; i < lines.length; i++) {
    const word = lines[i].trim().split(/\s+/)[0];
    if (word === "listener") return false;
    if (word === directive) return true;
  }
  return false;
}

/**
 * Where this machine's Mosquitto keeps the dynamic-security plugin.
 * @throws Error naming the package to install.
 */
export function findDynsecPlugin(): string {
  const dirs = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/mosquitto",
    "/usr/lib",
    "/usr/local/lib",
  ];
  for (const dir of dirs) {
    const path = `${dir}/mosquitto_dynamic_security.so`;
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // try the next directory
    }
  }
  throw new Error(
    `Missing mosquitto_dynamic_security.so (searched ${
      dirs.join(", ")
    }): apt-get install -y mosquitto`,
  );
}

/**
 * Creates the dynsec file with `username` as admin (`mosquitto_ctrl dynsec init`), as the
 * cluster's init container does. An existing file is kept: it belongs to the broker now.
 * @returns false when the file existed.
 */
export async function initDynsec(
  file: string,
  username: string,
  password: string,
): Promise<boolean> {
  try {
    await Deno.stat(file);
    return false;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const output = await new Deno.Command("mosquitto_ctrl", {
    args: ["dynsec", "init", file, username, password],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().catch((error) => {
    throw new Error(
      `Cannot run mosquitto_ctrl (apt-get install -y mosquitto): ${(error as Error).message}`,
    );
  });
  if (!output.success) {
    throw new Error(
      `mosquitto_ctrl dynsec init ${file} failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  // It holds password hashes; Mosquitto runs as this same user (see `user` above).
  await Deno.chmod(file, 0o600);
  return true;
}

/** Options of {@link prepareLocalMosquitto}. */
export interface LocalMosquittoOptions {
  dir: string;
  port: number;
  tls?: MosquittoConfigOptions["tls"];
  adminUsername: string;
  adminPassword: string;
  host?: string;
}

/**
 * Writes `<dir>/mosquitto.conf` and, on first use, `<dir>/dynamic-security.json`.
 * @returns the path of the config file.
 */
export async function prepareLocalMosquitto(options: LocalMosquittoOptions): Promise<string> {
  const dir = resolve(options.dir);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const config = renderMosquittoConfig(await Deno.readTextFile(SHIPPED_CONFIG), {
    dataDir: dir,
    host: options.host,
    port: options.port,
    tls: options.tls,
    pluginPath: findDynsecPlugin(),
    // Started as root, Mosquitto would switch to user "mosquitto", who cannot write `dir`.
    user: Deno.uid() === 0 ? "root" : undefined,
  });
  const path = join(dir, "mosquitto.conf");
  await Deno.writeTextFile(path, config);
  await initDynsec(join(dir, DYNSEC_FILE), options.adminUsername, options.adminPassword);
  return path;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: "string", default: ".data/mosquitto" },
      port: { type: "string", default: "1884" },
      "tls-port": { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      "admin-username": { type: "string", default: "outpost-admin" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`--port must be a port number: current value is '${values.port}'`);
    return 2;
  }
  let tls: MosquittoConfigOptions["tls"];
  if (values["tls-port"] || values.cert || values.key) {
    if (!values["tls-port"] || !values.cert || !values.key) {
      console.error("--tls-port, --cert and --key go together");
      return 2;
    }
    tls = {
      port: Number(values["tls-port"]),
      certFile: resolve(values.cert),
      keyFile: resolve(values.key),
    };
  }
  const dir = resolve(values.dir);
  const passwordFile = join(dir, "admin-password");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  let password = Deno.env.get("OUTPOST_MQTT_PASSWORD");
  if (!password) {
    password = await Deno.readTextFile(passwordFile).then((text) => text.trim()).catch(() => "");
  }
  if (!password) {
    password = randomPassword();
    await Deno.writeTextFile(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  const config = await prepareLocalMosquitto({
    dir,
    port,
    tls,
    adminUsername: values["admin-username"],
    adminPassword: password,
  });
  console.log(`Wrote ${config}. Start the broker, then the cloud against it:

  mosquitto -c ${config}
  OUTPOST_MQTT_URL=mqtt://127.0.0.1:${port} OUTPOST_MQTT_USERNAME=${values["admin-username"]} \\
    OUTPOST_MQTT_PASSWORD="$(cat ${passwordFile})" deno task cloud`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
