/**
 * Per-device issue and revocation times of minted broker credentials (NATS user JWTs): the
 * cloud's database is where revocations live, so every replica and every restart agrees on
 * them, and the broker is told from here (cloud/broker/nats/revocations.ts).
 *
 * Times are unix seconds, the resolution of a JWT's `iat`. A device's credentials form a chain:
 * each new one is issued strictly after the previous one and after the revocation time, and
 * issuing it revokes everything issued before, so exactly the newest credential is valid.
 * @module
 */
import type { Kysely } from "kysely";
import { type StoreDialect, writeTransaction } from "./dialect.ts";
import type { CloudDatabase } from "./schema.ts";

/** One device's credential times. */
export interface BrokerCredentialTimes {
  /** `iat` of the newest credential. */
  issuedAt: number;
  /** Credentials issued at or before this are refused; undefined when none is. */
  revokedThrough?: number;
}

/** A device whose credentials are (partly) revoked. */
export interface BrokerRevocation {
  deviceId: string;
  revokedThrough: number;
}

/**
 * Reserves the issue time of a new credential for `deviceId`: `nowSeconds`, or one second
 * after the previous credential (or revocation) if that is later, so the new one is never
 * caught by the revocation of the old ones. A device issued credentials before gets them all
 * revoked through the previous issue time.
 */
export async function issueBrokerCredential(
  db: Kysely<CloudDatabase>,
  dialect: StoreDialect,
  deviceId: string,
  nowSeconds: number,
): Promise<BrokerCredentialTimes> {
  for (let attempt = 0;; attempt++) {
    const outcome = await writeTransaction(db, dialect, async (tx) => {
      const row = await tx.selectFrom("broker_credentials").selectAll()
        .where("device_id", "=", deviceId).executeTakeFirst();
      if (!row) {
        const inserted = await tx.insertInto("broker_credentials")
          .values({ device_id: deviceId, issued_at: nowSeconds, revoked_through: null })
          .onConflict((oc) => oc.column("device_id").doNothing())
          .executeTakeFirst();
        return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1
          ? { issuedAt: nowSeconds }
          : undefined;
      }
      const previous = Number(row.issued_at);
      const revokedBefore = row.revoked_through === null ? 0 : Number(row.revoked_through);
      const revokedThrough = Math.max(previous, revokedBefore);
      const issuedAt = Math.max(nowSeconds, revokedThrough + 1);
      // Conditional on the row read: a concurrent issue (another replica) makes this a retry.
      const updated = await tx.updateTable("broker_credentials")
        .set({ issued_at: issuedAt, revoked_through: revokedThrough })
        .where("device_id", "=", deviceId).where("issued_at", "=", row.issued_at)
        .executeTakeFirst();
      return Number(updated.numUpdatedRows) === 1 ? { issuedAt, revokedThrough } : undefined;
    });
    if (outcome) return outcome;
    if (attempt >= 5) throw new Error(`Cannot issue broker credentials of '${deviceId}': busy`);
  }
}

/**
 * Revokes every credential of `deviceId` issued so far. False when it never had any.
 */
export async function revokeBrokerCredentials(
  db: Kysely<CloudDatabase>,
  deviceId: string,
): Promise<boolean> {
  const row = await db.selectFrom("broker_credentials").select("issued_at")
    .where("device_id", "=", deviceId).executeTakeFirst();
  if (!row) return false;
  // Never lowers a revocation: a later issue only raises issued_at.
  await db.updateTable("broker_credentials").set({ revoked_through: row.issued_at })
    .where("device_id", "=", deviceId)
    .where((eb) =>
      eb.or([eb("revoked_through", "is", null), eb("revoked_through", "<", row.issued_at)])
    )
    .execute();
  return true;
}

/** One device's credential times; undefined when it never had any. */
export async function brokerCredentialTimes(
  db: Kysely<CloudDatabase>,
  deviceId: string,
): Promise<BrokerCredentialTimes | undefined> {
  const row = await db.selectFrom("broker_credentials").selectAll()
    .where("device_id", "=", deviceId).executeTakeFirst();
  if (!row) return undefined;
  return {
    issuedAt: Number(row.issued_at),
    ...(row.revoked_through === null ? {} : { revokedThrough: Number(row.revoked_through) }),
  };
}

/** Every revocation, by device id. */
export async function brokerRevocations(
  db: Kysely<CloudDatabase>,
): Promise<BrokerRevocation[]> {
  const rows = await db.selectFrom("broker_credentials")
    .select(["device_id", "revoked_through"])
    .where("revoked_through", "is not", null)
    .orderBy("device_id").execute();
  return rows.map((row) => ({
    deviceId: row.device_id,
    revokedThrough: Number(row.revoked_through),
  }));
}
