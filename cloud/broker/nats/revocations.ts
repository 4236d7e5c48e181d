/**
 * Keeps the Outpost account JWT on the NATS cluster in step with the revocations in the cloud's
 * database. The database is the truth (two replicas and restarts agree); the broker learns it
 * through the system account (`$SYS.REQ.ACCOUNT.<account>.CLAIMS.UPDATE`, which every node of a
 * `full` resolver applies: ~0.1 s cluster-wide here) and from then on refuses a revoked JWT at
 * connect and closes its open connections.
 *
 * nats-server 2.9 applies an update even when it is older than the JWT it has, so two replicas
 * pushing at once could leave the older set in place. Every push therefore re-reads the database
 * after the update and pushes again if it changed, and {@link AccountPublisher.reconcile} (run
 * at start and periodically) compares what the cluster holds with the database.
 *
 * With a credential lifetime, a revocation is dropped once every JWT it covers has expired
 * (`revokedThrough + lifetime <= now`): the map holds the revocations of one lifetime, not of
 * every device ever re-enrolled, and stays far below NATS's 1 MB limit on a JWT.
 * @module
 */
import type { Logger } from "@outpost/platform/log";
import type { BrokerRevocation } from "../../store/broker_credentials.ts";
import { decodeJwt } from "./jwt.ts";
import { deviceUserKey } from "./device_credentials.ts";
import type { NatsKeys } from "./server_config.ts";
import { outpostAccountJwt } from "./server_config.ts";

/** A request to the system account: resolves with the reply's text. */
export type SystemRequest = (subject: string, payload: string) => Promise<string>;

/** Options of {@link AccountPublisher}. */
export interface AccountPublisherOptions {
  keys: Pick<NatsKeys, "operator" | "account">;
  revocations: () => Promise<BrokerRevocation[]>;
  request: SystemRequest;
  logger: Logger;
  /** Device JWT lifetime (s); revocations older than it are dropped. Absent: kept forever. */
  credentialLifetimeSeconds?: number;
  /** Unix seconds now (tests). */
  now?: () => number;
}

/** The revocations map of an account JWT: user key → unix seconds. */
export type RevocationMap = Record<string, number>;

/** Thrown when the cluster did not take the account JWT. */
export class AccountUpdateError extends Error {}

/** Pushes the account JWT with the database's revocations to the cluster. */
export class AccountPublisher {
  readonly #options: AccountPublisherOptions;
  #running: Promise<void> | undefined;
  #again = false;
  /** The map last confirmed by the cluster. */
  #pushed: RevocationMap | undefined;

  constructor(options: AccountPublisherOptions) {
    this.#options = options;
  }

  /** The revocations map the database holds now, without those whose JWTs all expired. */
  async current(): Promise<RevocationMap> {
    const map: RevocationMap = {};
    for (const { deviceId, revokedThrough } of await this.#options.revocations()) {
      if (this.expired(revokedThrough)) continue;
      map[deviceUserKey(this.#options.keys.account, deviceId)] = revokedThrough;
    }
    return map;
  }

  /** True when every JWT issued at or before `issuedAt` has expired (needs no revocation). */
  expired(issuedAt: number): boolean {
    const lifetime = this.#options.credentialLifetimeSeconds;
    const now = this.#options.now?.() ?? Math.floor(Date.now() / 1000);
    return lifetime !== undefined && issuedAt + lifetime <= now;
  }

  /** True when the cluster last confirmed `userKey` revoked through `through` or later. */
  confirmed(userKey: string, through: number): boolean {
    return (this.#pushed?.[userKey] ?? -1) >= through;
  }

  /**
   * Pushes the database's revocations; resolves once a push that started after this call was
   * confirmed (concurrent calls share pushes).
   * @throws AccountUpdateError, or the request's error when the cluster cannot be reached.
   */
  push(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running.then(() => this.push());
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          const map = await this.current();
          await this.#send(map);
          this.#pushed = map;
          // Another replica may have pushed an older set meanwhile: push again if ours moved.
          if (!sameMap(map, await this.current())) this.#again = true;
        } while (this.#again);
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /**
   * Compares the account JWT the cluster serves with the database and pushes when they differ.
   * Returns true when it pushed.
   */
  async reconcile(): Promise<boolean> {
    const account = this.#options.keys.account.publicKey;
    let served: RevocationMap | undefined;
    try {
      const jwt = await this.#options.request(`$SYS.REQ.ACCOUNT.${account}.CLAIMS.LOOKUP`, "");
      served = (decodeJwt(jwt.trim()).nats.revocations ?? {}) as RevocationMap;
    } catch (error) {
      this.#options.logger.debug("cannot look the account JWT up; pushing", { error });
    }
    const wanted = await this.current();
    // Pushes also to drop the revocations that expired since the last push.
    if (served && covers(served, wanted) && Object.keys(served).every((key) => key in wanted)) {
      this.#pushed = served;
      return false;
    }
    await this.push();
    return true;
  }

  async #send(map: RevocationMap): Promise<void> {
    const { keys, request, logger } = this.#options;
    const jwt = outpostAccountJwt(keys, map);
    const subject = `$SYS.REQ.ACCOUNT.${keys.account.publicKey}.CLAIMS.UPDATE`;
    const started = performance.now();
    const reply = JSON.parse(await request(subject, jwt)) as {
      data?: { code?: number; message?: string };
      error?: { code?: number; description?: string };
    };
    if (reply.data?.code !== 200) {
      throw new AccountUpdateError(
        `NATS refused the account JWT update: ${reply.error?.description ?? JSON.stringify(reply)}`,
      );
    }
    logger.info("account JWT pushed to NATS", {
      revocations: Object.keys(map).length,
      bytes: jwt.length,
      ms: Math.round(performance.now() - started),
    });
  }
}

function sameMap(a: RevocationMap, b: RevocationMap): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

/** True when `served` revokes at least what `wanted` does. */
function covers(served: RevocationMap, wanted: RevocationMap): boolean {
  return Object.entries(wanted).every(([key, through]) => (served[key] ?? -1) >= through);
}
