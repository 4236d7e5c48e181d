/**
 * Mosquitto's dynamic-security plugin, driven over MQTT: the cloud logs in as a dynsec admin,
 * publishes JSON commands to `$CONTROL/dynamic-security/v1` and reads the answers on
 * `$CONTROL/dynamic-security/v1/response`.
 *
 * Every admin connection receives every answer (each replica's too), so each command carries a
 * `correlationData` that Mosquitto echoes back, and answers are matched by it.
 * Command names and fields are those of Mosquitto 2.0's plugin (checked against 2.0.11).
 * @module
 */
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "@outpost/platform/log";
import { redactUrl } from "./link.ts";

/** Where commands go. */
export const DYNSEC_TOPIC = "$CONTROL/dynamic-security/v1";
/** Where Mosquitto answers. */
export const DYNSEC_RESPONSE_TOPIC = `${DYNSEC_TOPIC}/response`;

/** One dynsec command, such as `{"command":"createClient","username":…}`. */
export interface DynsecCommand {
  command: string;
  [field: string]: unknown;
}

/** Mosquitto's answer to one command: `error` is set when it failed. */
export interface DynsecResponse {
  command: string;
  error?: string;
  data?: unknown;
  correlationData?: string;
}

/** One ACL entry of a role. */
export interface DynsecAcl {
  acltype:
    | "publishClientSend"
    | "publishClientReceive"
    | "subscribeLiteral"
    | "subscribePattern"
    | "unsubscribeLiteral"
    | "unsubscribePattern";
  topic: string;
  allow: boolean;
  /** Higher is checked first; the first matching entry decides. */
  priority?: number;
}

/** The broker cannot run dynsec commands now (not connected, no answer in time). */
export class DynsecUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DynsecUnavailableError";
  }
}

/** A connection that runs dynsec commands. */
export interface DynsecControl {
  /**
   * Sends `commands` in one message and resolves with one response per command, in order.
   * A command that failed has `error` set; this only rejects when there is no answer.
   * @throws DynsecUnavailableError when the broker is unreachable or silent for `timeoutMs`.
   */
  run(commands: DynsecCommand[]): Promise<DynsecResponse[]>;
  /** Disconnects; pending commands fail. */
  close(): Promise<void>;
}

/** Options of {@link connectDynsec}. */
export interface DynsecOptions {
  url: string;
  username: string;
  password: string;
  logger: Logger;
  /** How long {@link DynsecControl.run} waits for the connection and the answer; default 10 s. */
  timeoutMs?: number;
  /** Default 2000 ms. */
  reconnectPeriod?: number;
  /** CA certificate(s), PEM, for an `mqtts://` broker with a private CA. */
  ca?: string;
  /** Default 5. Tests use 4 to run against aedes. */
  protocolVersion?: 4 | 5;
}

/**
 * Connects (in the background, reconnecting) as a dynsec admin. A client id with a `:` cannot be
 * a device id, so no device can take this session over.
 */
export function connectDynsec(options: DynsecOptions): DynsecControl {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const logger = options.logger.child({ dynsec: redactUrl(options.url) });
  const clientId = `outpost-cloud:dynsec:${crypto.randomUUID().slice(0, 8)}`;
  const client: MqttClient = mqtt.connect(options.url, {
    protocolVersion: options.protocolVersion ?? 5,
    clientId,
    username: options.username,
    password: options.password,
    clean: true,
    connectTimeout: 5_000,
    reconnectPeriod: options.reconnectPeriod ?? 2000,
    ...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : {}),
  });
  const pending = new Map<string, (response: DynsecResponse) => void>();
  /** Fails the commands waiting for an answer (on close). */
  const inflight = new Set<(error: Error) => void>();
  let sequence = 0;
  let ready = false;
  let readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  let lastError = "not connected yet";
  let closed = false;

  client.on("connect", () => {
    client.subscribeAsync(DYNSEC_RESPONSE_TOPIC, { qos: 1 }).then(() => {
      ready = true;
      for (const waiter of readyWaiters) waiter.resolve();
      readyWaiters = [];
      logger.info("connected to Mosquitto dynamic security", { username: options.username });
    }, (error) => {
      lastError = `cannot subscribe to ${DYNSEC_RESPONSE_TOPIC}: ${error.message}`;
      logger.error("dynsec admin may not read the responses; is it a dynsec admin?", {
        username: options.username,
        error,
      });
    });
  });
  client.on("close", () => ready = false);
  client.on("error", (error) => {
    lastError = error.message;
    logger.warn("dynsec admin connection error", { username: options.username, error });
  });
  client.on("message", (topic, payload) => {
    if (topic !== DYNSEC_RESPONSE_TOPIC) return;
    let responses: DynsecResponse[];
    try {
      responses = JSON.parse(payload.toString()).responses ?? [];
    } catch {
      return; // not ours to judge; our commands are matched by correlation data
    }
    for (const response of responses) {
      const resolve = response.correlationData && pending.get(response.correlationData);
      if (resolve) resolve(response);
    }
  });

  function whenReady(deadline: number): Promise<void> {
    if (ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve() {
          clearTimeout(timer);
          resolve();
        },
        reject(error: Error) {
          clearTimeout(timer);
          readyWaiters = readyWaiters.filter((other) => other !== waiter);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        waiter.reject(
          new DynsecUnavailableError(
            `Mosquitto at ${
              redactUrl(options.url)
            } is not reachable as dynsec admin '${options.username}': ${lastError}`,
          ),
        );
      }, Math.max(0, deadline - Date.now()));
      readyWaiters.push(waiter);
    });
  }

  return {
    async run(commands) {
      if (closed) throw new DynsecUnavailableError("the dynsec connection is closed");
      const deadline = Date.now() + timeoutMs;
      await whenReady(deadline);
      const tagged = commands.map((command) => ({
        ...command,
        correlationData: `${clientId}:${++sequence}`,
      }));
      const answers = tagged.map((command) =>
        new Promise<DynsecResponse>((resolve) => pending.set(command.correlationData, resolve))
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      let abort: (error: Error) => void = () => {};
      const timeout = new Promise<never>((_, reject) => {
        abort = reject;
        timer = setTimeout(() => {
          reject(
            new DynsecUnavailableError(
              `Mosquitto dynamic security did not answer '${
                commands[0]?.command
              }' within ${timeoutMs} ms`,
            ),
          );
        }, Math.max(0, deadline - Date.now()));
      });
      inflight.add(abort);
      try {
        await Promise.race([
          client.publishAsync(DYNSEC_TOPIC, JSON.stringify({ commands: tagged }), { qos: 1 }),
          timeout,
        ]);
        return await Promise.race([Promise.all(answers), timeout]);
      } finally {
        clearTimeout(timer);
        inflight.delete(abort);
        for (const command of tagged) pending.delete(command.correlationData);
      }
    },
    async close() {
      closed = true;
      const error = new DynsecUnavailableError("the dynsec connection is closed");
      for (const waiter of [...readyWaiters]) waiter.reject(error);
      for (const abort of [...inflight]) abort(error);
      await client.endAsync(true);
    },
  };
}

/**
 * Throws when a response failed, unless its error is one of `tolerated` (such as
 * "Client already exists" for a create that may be a repeat).
 */
export function expectOk(response: DynsecResponse, tolerated: string[] = []): void {
  if (response.error === undefined || tolerated.includes(response.error)) return;
  throw new Error(`Mosquitto dynsec command '${response.command}' failed: ${response.error}`);
}

/** Creates a role with exactly `acls`, or sets them on the role of that name if it exists. */
export async function ensureRole(
  control: DynsecControl,
  rolename: string,
  acls: DynsecAcl[],
): Promise<void> {
  const [created] = await control.run([{ command: "createRole", rolename, acls }]);
  if (created.error === "Role already exists") {
    // modifyRole replaces the ACL list and, unlike modifyClient, kicks nobody.
    const [modified] = await control.run([{ command: "modifyRole", rolename, acls }]);
    expectOk(modified);
    return;
  }
  expectOk(created);
}
