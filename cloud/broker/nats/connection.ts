/**
 * The cloud's own NATS connections: each logs in as a user minted at start (a fresh key, its
 * JWT signed by the account the connection belongs to; the server checks the nonce signature,
 * so the JWT alone is not enough to reuse it).
 * @module
 */
import { Buffer } from "node:buffer";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@outpost/platform/log";
import { type UserClaims, userJwt } from "./jwt.ts";
import { SigningKey } from "./nkey.ts";

/** Options of {@link connectAs}. */
export interface ConnectAsOptions {
  servers: string[];
  /** The account the user belongs to (signs its JWT). */
  account: SigningKey;
  /** Connection and user name, for the server's logs. */
  name: string;
  claims?: UserClaims;
  logger: Logger;
  /** PEM CA for `tls://` servers with a private CA. */
  ca?: string;
}

/** A minted user: its JWT and its key. */
export interface ServiceUser {
  jwt: string;
  key: SigningKey;
}

/** Mints a user of `account` with a fresh key. */
export function mintServiceUser(account: SigningKey, name: string, claims: UserClaims = {}) {
  const key = SigningKey.generate("user");
  return { key, jwt: userJwt(account, { subject: key.publicKey, name }, claims) };
}

/**
 * Connects (waiting for the first server that answers, retrying forever, like MQTT.js does)
 * and keeps reconnecting across the given servers.
 */
export async function connectAs(options: ConnectAsOptions): Promise<NatsConnection> {
  const user = mintServiceUser(options.account, options.name, options.claims);
  const connection = await connect({
    servers: options.servers,
    name: options.name,
    waitOnFirstConnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    authenticator: (nonce?: string) => ({
      jwt: user.jwt,
      nkey: user.key.publicKey,
      sig: Buffer.from(user.key.sign(new TextEncoder().encode(nonce ?? ""))).toString(
        "base64url",
      ),
    }),
    ...(options.ca ? { tls: { ca: options.ca } } : {}),
  });
  const logger = options.logger.child({ nats: options.name });
  (async () => {
    for await (const status of connection.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") {
        logger.info(`NATS ${status.type}`, { server: (status as { server?: string }).server });
      } else if (status.type === "error") {
        logger.warn("NATS connection error", { error: String(status.error) });
      }
    }
  })().catch(() => {});
  return connection;
}
