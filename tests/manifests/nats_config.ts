/**
 * Reading the NATS server config of k8s/base/nats as rendered into its ConfigMap: the listeners
 * (client, monitoring, cluster routes, MQTT) and the cluster routes. Written for the subset of
 * the NATS config syntax that file uses (`key: value` lines, `name { … }` blocks, one route per
 * line); anything else there fails loudly instead of being guessed.
 * @module
 */

/** A port the server listens on, with the config block that opens it. */
export interface NatsListener {
  /** `listen` (clients), `http` (monitoring), `cluster` (routes) or `mqtt`. */
  block: "listen" | "http" | "cluster" | "mqtt";
  host: string;
  port: number;
}

/** The text of a top-level block `name { … }` (braces balanced), or undefined. */
export function natsBlock(conf: string, name: string): string | undefined {
  const start = new RegExp(`^${name}\\s*\\{`, "m").exec(conf);
  if (!start) return undefined;
  let depth = 0;
  for (let i = start.index + start[0].length - 1; i < conf.length; i++) {
    if (conf[i] === "{") depth++;
    else if (conf[i] === "}" && --depth === 0) return conf.slice(start.index, i + 1);
  }
  throw new Error(`NATS config: block ${name} is not closed`);
}

function hostPort(value: string, where: string): { host: string; port: number } {
  const match = /^([0-9.]+|\[[0-9a-f:]+\]):(\d+)$/.exec(value.trim());
  if (!match) throw new Error(`NATS config: ${where} '${value}' is not host:port`);
  return { host: match[1], port: Number(match[2]) };
}

/** Every port the config opens. */
export function natsListeners(conf: string): NatsListener[] {
  const listeners: NatsListener[] = [];
  const topLevel = conf.split("\n").filter((line) => /^\S/.test(line)).join("\n");
  for (const block of ["listen", "http"] as const) {
    const value = new RegExp(`^${block}:\\s*(\\S+)`, "m").exec(topLevel)?.[1];
    if (value) listeners.push({ block, ...hostPort(value, block) });
  }
  const cluster = natsBlock(conf, "cluster");
  const clusterListen = cluster && /^\s*listen:\s*(\S+)/m.exec(cluster)?.[1];
  if (clusterListen) listeners.push({ block: "cluster", ...hostPort(clusterListen, "cluster") });
  const mqtt = natsBlock(conf, "mqtt");
  const mqttPort = mqtt && /^\s*port:\s*(\d+)/m.exec(mqtt)?.[1];
  if (mqttPort) listeners.push({ block: "mqtt", host: "0.0.0.0", port: Number(mqttPort) });
  return listeners;
}

/** The route URLs of the `cluster` block. */
export function natsRoutes(conf: string): string[] {
  const cluster = natsBlock(conf, "cluster") ?? "";
  const routes = /routes:\s*\[([^\]]*)\]/.exec(cluster)?.[1] ?? "";
  return routes.split(/[\s,]+/).filter(Boolean);
}
