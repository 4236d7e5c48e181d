/**
 * The cloud against Mosquitto 2 with the dynamic-security plugin: device credentials created
 * at enrollment (one dynsec client and role per device), and the ingest link with its own
 * least-privilege dynsec client.
 *
 * - Device `<id>`: dynsec client `<id>` bound to client id `<id>`, role `outpost-device-<id>`
 *   granting exactly `topics.deviceUplink(id)` (publish) and `topics.deviceDownlink(id)`
 *   (subscribe, receive). Re-enrolling sets a new password, which also disconnects the old
 *   session; revoking deletes the client and its role, which disconnects it too.
 * - Ingest: dynsec client `outpost-cloud-ingest`, role `outpost-cloud-ingest` (subscribe every
 *   device's uplink, also as the shared-subscription form; publish every device's downlink). Its password
 *   is derived from the admin password, so every replica computes the same one and nothing
 *   needs storing; rotating the admin password rotates it at the next start.
 * @module
 */
import { createHmac } from "node:crypto";
import mqtt from "mqtt";
import type { Logger } from "@outpost/platform/log";
import { topics } from "@outpost/protocol";
import {
  type DeviceCredentialsProvisioner,
  ProvisioningError,
  randomPassword,
} from "./credentials.ts";
import {
  connectDynsec,
  type DynsecAcl,
  type DynsecControl,
  ensureRole,
  expectOk,
} from "./dynsec.ts";
import { connectExternalBroker, INGEST_GROUP } from "./external.ts";
import { type BrokerLink, type PublishOptions, redactUrl, type UplinkHandler } from "./link.ts";

/** The dynsec user (and role) of the cloud's ingest connections. */
export const INGEST_USERNAME = "outpost-cloud-ingest";
/** `textname` that marks a dynsec client as an Outpost device (checked before rotating one). */
export const DEVICE_TEXTNAME = "Outpost device";
const INGEST_TEXTNAME = "Outpost cloud ingest";

/** The dynsec role of one device. */
export function deviceRoleName(deviceId: string): string {
  return `outpost-device-${deviceId}`;
}

/**
 * A device's ACL: publish its own uplink, subscribe to and receive its own downlink. The
 * receive deny is defense in depth (the subscribe ACL already keeps other topics out).
 */
export function deviceAcls(deviceId: string): DynsecAcl[] {
  const up = topics.deviceUplink(deviceId);
  const down = topics.deviceDownlink(deviceId);
  return [
    { acltype: "publishClientSend", topic: up, allow: true, priority: 10 },
    { acltype: "subscribePattern", topic: down, allow: true, priority: 10 },
    { acltype: "publishClientReceive", topic: down, allow: true, priority: 10 },
    { acltype: "publishClientReceive", topic: "#", allow: false, priority: 0 },
  ];
}

/** The ingest role: every device's uplink in (plain and `$share`), every downlink out. */
export function ingestAcls(group = INGEST_GROUP): DynsecAcl[] {
  // Mosquitto checks a shared subscription's ACL against the full `$share/<group>/…` string.
  return [
    { acltype: "subscribePattern", topic: topics.allUplink, allow: true },
    { acltype: "subscribePattern", topic: topics.sharedUplink(group), allow: true },
    { acltype: "publishClientReceive", topic: topics.allUplink, allow: true },
    { acltype: "publishClientSend", topic: topics.allDownlink, allow: true },
  ];
}

/** The ingest client's password: HMAC-SHA256 of a fixed label keyed by the admin password. */
export function ingestPassword(adminPassword: string): string {
  return createHmac("sha256", adminPassword).update("outpost-cloud-ingest/v1").digest(
    "base64url",
  );
}

function unavailable(error: unknown): never {
  if (error instanceof ProvisioningError) throw error;
  const message = error instanceof Error ? error.message : String(error);
  throw new ProvisioningError(
    "broker_unavailable",
    `Cannot provision broker credentials: ${message}`,
  );
}

/**
 * Enrollment's provisioner on Mosquitto: creates the device's role and client, or, for a device
 * enrolled before, sets a new password (Mosquitto then disconnects the old session).
 * @throws ProvisioningError `broker_unavailable` when Mosquitto cannot be reached or refuses,
 *   `device_id_taken` when a broker user of that name exists that is not an Outpost device,
 *   and `device_disabled` for a device an operator disabled (revoked) in the broker.
 */
export function dynsecProvisioner(control: DynsecControl): DeviceCredentialsProvisioner {
  return {
    async provision(deviceId) {
      const password = randomPassword();
      const rolename = deviceRoleName(deviceId);
      const client = {
        username: deviceId,
        password,
        // A device must connect with its own id, so no one can take its session over.
        clientid: deviceId,
        textname: DEVICE_TEXTNAME,
        roles: [{ rolename }],
      };
      try {
        await ensureRole(control, rolename, deviceAcls(deviceId));
        const [created] = await control.run([{ command: "createClient", ...client }]);
        if (created.error === "Client already exists") {
          const [existing] = await control.run([{ command: "getClient", username: deviceId }]);
          expectOk(existing);
          const found = (existing.data as {
            client?: { textname?: string; disabled?: boolean };
          } | undefined)?.client;
          if (found?.textname !== DEVICE_TEXTNAME) {
            // The admin, the ingest user or an operator's user: never rotate those.
            throw new ProvisioningError(
              "device_id_taken",
              `Device id '${deviceId}' is the name of a broker user that is not an Outpost device; enroll under another id`,
            );
          }
          if (found.disabled) {
            // Revoked by an operator: new credentials would be refused at connect anyway.
            throw new ProvisioningError(
              "device_disabled",
              `Device '${deviceId}' is disabled in the broker; an operator must enable it first (mosquitto_ctrl dynsec enableClient ${deviceId})`,
            );
          }
          // Replaces password, client id binding and roles; disconnects the old session.
          const [modified] = await control.run([{ command: "modifyClient", ...client }]);
          expectOk(modified);
        } else {
          expectOk(created);
        }
      } catch (error) {
        unavailable(error);
      }
      return { username: deviceId, password, passwordHash: null };
    },
    // modifyClient in provision already disconnected every session of the user.
    endSessions: () => Promise.resolve(),
    async revoke(deviceId) {
      try {
        const [existing] = await control.run([{ command: "getClient", username: deviceId }]);
        if (existing.error === "Client not found") return;
        expectOk(existing);
        const found = (existing.data as { client?: { textname?: string } } | undefined)?.client;
        if (found?.textname !== DEVICE_TEXTNAME) {
          throw new ProvisioningError(
            "device_id_taken",
            `Broker user '${deviceId}' is not an Outpost device; it is left untouched`,
          );
        }
        // deleteClient disconnects the client's sessions; its role goes with it.
        const [client, role] = await control.run([
          { command: "deleteClient", username: deviceId },
          { command: "deleteRole", rolename: deviceRoleName(deviceId) },
        ]);
        expectOk(client, ["Client not found"]);
        expectOk(role, ["Role not found"]);
      } catch (error) {
        unavailable(error);
      }
    },
  };
}

/** Options of {@link connectMosquitto}. */
export interface MosquittoOptions {
  url: string;
  adminUsername: string;
  adminPassword: string;
  logger: Logger;
  /** CA certificate(s), PEM, for an `mqtts://` broker with a private CA. */
  ca?: string;
  /** Retry delay of the ingest bootstrap while Mosquitto is unreachable; default 2000 ms. */
  retryMs?: number;
}

/** What {@link connectMosquitto} returns. */
export interface MosquittoSetup {
  /** The ingest link; it connects once the ingest client exists. */
  link: BrokerLink;
  provisioner: DeviceCredentialsProvisioner;
}

const AUTH_REFUSED = new Set([4, 5, 134, 135]);

/** Connects with the ingest credentials once, to learn whether the broker accepts them. */
async function ingestCredentialsWork(options: MosquittoOptions, password: string) {
  try {
    const probe = await mqtt.connectAsync(options.url, {
      protocolVersion: 5,
      clientId: `outpost-cloud:probe:${crypto.randomUUID().slice(0, 8)}`,
      username: INGEST_USERNAME,
      password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : {}),
    });
    await probe.endAsync(true);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "number" && AUTH_REFUSED.has(code)) return false;
    throw error;
  }
}

/**
 * Makes sure the ingest role and client exist with the password derived from the admin's.
 * An existing client is changed only when its password no longer works: `modifyClient`
 * disconnects every session of that user, which would interrupt the other replicas.
 */
async function ensureIngestClient(
  control: DynsecControl,
  options: MosquittoOptions,
  password: string,
): Promise<void> {
  await ensureRole(control, INGEST_USERNAME, ingestAcls());
  const client = {
    username: INGEST_USERNAME,
    password,
    textname: INGEST_TEXTNAME,
    roles: [{ rolename: INGEST_USERNAME }],
  };
  const [created] = await control.run([{ command: "createClient", ...client }]);
  if (created.error !== "Client already exists") return expectOk(created);
  if (await ingestCredentialsWork(options, password)) return;
  options.logger.warn(
    "the broker refused the ingest client's derived password (admin password changed?); setting it",
    { username: INGEST_USERNAME },
  );
  const [modified] = await control.run([{ command: "modifyClient", ...client }]);
  expectOk(modified);
}

/**
 * Connects to Mosquitto as dynsec admin and, in the background, sets up the ingest client and
 * its link (retrying while the broker is unreachable). The cloud serves HTTP meanwhile;
 * uplink is ingested once the link is subscribed, and devices resend anything sent earlier.
 */
export function connectMosquitto(options: MosquittoOptions): MosquittoSetup {
  const logger = options.logger;
  const control = connectDynsec({
    url: options.url,
    username: options.adminUsername,
    password: options.adminPassword,
    logger,
    ca: options.ca,
  });
  const password = ingestPassword(options.adminPassword);
  let inner: BrokerLink | undefined;
  let handler: UplinkHandler | undefined;
  let closed = false;
  let wake: (() => void) | undefined;

  const bootstrap = (async () => {
    while (!closed) {
      try {
        await ensureIngestClient(control, options, password);
        if (closed) return;
        inner = connectExternalBroker({
          url: options.url,
          username: INGEST_USERNAME,
          password,
          logger,
          ca: options.ca,
        });
        if (handler) await inner.subscribeUplink(handler);
        logger.info("Mosquitto ingest client ready", {
          broker: redactUrl(options.url),
          username: INGEST_USERNAME,
        });
        return;
      } catch (error) {
        if (closed) return;
        const message = error instanceof Error ? error.message : String(error);
        logger.warn("cannot set up the Mosquitto ingest client yet; retrying", {
          error: message,
        });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.retryMs ?? 2000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  })();

  const link: BrokerLink = {
    protocolVersion: 5,
    subscribeUplink(next) {
      handler = next;
      return inner ? inner.subscribeUplink(next) : Promise.resolve();
    },
    publish(topic: string, payload: string | Uint8Array, publish: PublishOptions) {
      if (!inner) {
        return Promise.reject(
          new Error(`MQTT broker ${redactUrl(options.url)} is not connected (ingest not set up)`),
        );
      }
      return inner.publish(topic, payload, publish);
    },
    async close() {
      closed = true;
      wake?.();
      await control.close(); // fails a bootstrap waiting for the broker at once
      await bootstrap;
      await inner?.close();
    },
  };
  return { link, provisioner: dynsecProvisioner(control) };
}
