/**
 * Wires the NATS backend: the cloud's two users (system account for account updates and the
 * presence sweep, Outpost account for JetStream uplink and plain-NATS downlink), the account
 * publisher with its periodic reconcile, the provisioner and the link.
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@outpost/platform/log";
import type { CloudStore } from "../../store/store.ts";
import type { DeviceCredentialsProvisioner } from "../credentials.ts";
import { connectAs } from "./connection.ts";
import { connectNatsLink, type NatsLink } from "./link.ts";
import { natsProvisioner } from "./provisioner.ts";
import { AccountPublisher } from "./revocations.ts";
import type { NatsKeys } from "./server_config.ts";

/** Options of {@link startNats}. */
export interface NatsSetupOptions {
  natsUrls: string[];
  keys: NatsKeys;
  store: Pick<
    CloudStore,
    | "issueBrokerCredential"
    | "revokeBrokerCredentials"
    | "brokerCredentialTimes"
    | "brokerRevocations"
    | "onlineDeviceIds"
  >;
  logger: Logger;
  ca?: string;
  /** How often the account JWT is compared with the database; default 30 s. */
  reconcileMs?: number;
  /** Presence sweep period; default 30 s. */
  sweepMs?: number;
  /** Uplink redelivery after a replica died; default 30 s. */
  ackWaitMs?: number;
  /** Device JWT lifetime (s); absent: valid until revoked. */
  credentialLifetimeSeconds?: number;
}

/** What {@link startNats} returns. */
export interface NatsSetup {
  link: NatsLink;
  provisioner: DeviceCredentialsProvisioner;
  publisher: AccountPublisher;
}

/**
 * Connects to the cluster (waiting for it, retrying forever) and starts the backend.
 */
export async function startNats(options: NatsSetupOptions): Promise<NatsSetup> {
  const { keys, logger } = options;
  const connections: NatsConnection[] = [];
  try {
    const system = await connectAs({
      servers: options.natsUrls,
      account: keys.systemAccount,
      name: "outpost-cloud-system",
      logger,
      ca: options.ca,
    });
    connections.push(system);
    const nats = await connectAs({
      servers: options.natsUrls,
      account: keys.account,
      name: "outpost-cloud",
      logger,
      ca: options.ca,
    });
    connections.push(nats);
    const publisher = new AccountPublisher({
      keys,
      revocations: () => options.store.brokerRevocations(),
      request: async (subject, payload) =>
        (await system.request(subject, payload, { timeout: 5000 })).string(),
      logger: logger.child({ part: "nats-account" }),
      credentialLifetimeSeconds: options.credentialLifetimeSeconds,
    });
    const reconcile = () =>
      publisher.reconcile().catch((error) =>
        logger.warn("cannot reconcile the NATS account JWT now", { error: String(error) })
      );
    // The first one runs once the ingest subscribes: the cloud's migrations are done by then
    // (at start the revocations table may not exist yet).
    let firstReconcile: Promise<unknown> = Promise.resolve();
    const timer = setInterval(reconcile, options.reconcileMs ?? 30_000);
    const link = connectNatsLink({
      nats,
      system,
      account: keys.account.publicKey,
      logger,
      ackWaitMs: options.ackWaitMs,
      sweepMs: options.sweepMs,
      onlineDevices: () => options.store.onlineDeviceIds(),
    });
    const subscribeUplink = link.subscribeUplink;
    link.subscribeUplink = (handler) => {
      firstReconcile = reconcile();
      return subscribeUplink(handler);
    };
    const close = link.close;
    link.close = async () => {
      clearInterval(timer);
      await firstReconcile;
      await close();
      for (const connection of connections) await connection.drain().catch(() => {});
    };
    return {
      link,
      publisher,
      provisioner: natsProvisioner({
        account: keys.account,
        store: options.store,
        publisher,
        credentialLifetimeSeconds: options.credentialLifetimeSeconds,
      }),
    };
  } catch (error) {
    for (const connection of connections) await connection.close().catch(() => {});
    throw error;
  }
}
