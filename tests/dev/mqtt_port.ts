/**
 * Which port `deno task dev` gives the cloud's embedded MQTT broker: `--mqtt-port` when given,
 * else `OUTPOST_MQTT_PORT`, else 1883 when it is free, else a free port, and then it says which:
 * most IoT developers' machines already run a broker on 1883.
 * @module
 */

/** The broker port `deno task dev` tries first. */
export const DEFAULT_MQTT_PORT = 1883;

/** What {@link chooseMqttPort} decided. */
export interface MqttPortChoice {
  /** The port, as the cloud's OUTPOST_MQTT_PORT (the cloud validates it). */
  port: string;
  /** A line for the developer when the default was taken. */
  note?: string;
}

/** Options of {@link chooseMqttPort}. */
export interface ChooseMqttPortOptions {
  /** `--mqtt-port`, when given. */
  flag?: string;
  /** `OUTPOST_MQTT_PORT` of the environment, when set. */
  env?: string;
  /** The address the cloud binds (its OUTPOST_HOST, default 127.0.0.1). */
  host: string;
  /** Whether a port can be bound on the host (default: try it). */
  isFree?: (port: number, host: string) => boolean;
  /** A free port of the host (default: ask the kernel). */
  freePort?: (host: string) => number;
}

function canBind(port: number, hostname: string): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return false;
    throw error;
  }
}

function anyFreePort(hostname: string): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * The broker port. A port the developer asked for is used as it is (a taken one then stops the
 * cloud with its one-line error); only the default gives way to a free port.
 */
export function chooseMqttPort(options: ChooseMqttPortOptions): MqttPortChoice {
  if (options.flag !== undefined) return { port: options.flag };
  if (options.env !== undefined && options.env !== "") return { port: options.env };
  const isFree = options.isFree ?? canBind;
  if (isFree(DEFAULT_MQTT_PORT, options.host)) return { port: String(DEFAULT_MQTT_PORT) };
  const port = (options.freePort ?? anyFreePort)(options.host);
  return {
    port: String(port),
    note: `[dev] port ${DEFAULT_MQTT_PORT} on ${options.host} is taken (another MQTT broker?): ` +
      `the embedded broker uses port ${port} instead; set OUTPOST_MQTT_PORT or --mqtt-port to ` +
      "choose one",
  };
}
