/**
 * The cloud's `Idempotency-Key` records (see `@outpost/platform/idempotency`): one row per
 * (route, key), claimed before the request runs and completed with its first answer.
 * @module
 */
import type { Kysely } from "kysely";
import {
  IDEMPOTENCY_TTL_MS,
  type IdempotencyRecords,
  type IdempotencyRequest,
} from "@outpost/platform/idempotency";
import type { CloudDatabase } from "./schema.ts";

/** How often expired keys are swept, at most. */
const SWEEP_INTERVAL_MS = 60_000;

/** {@link IdempotencyRecords} over the cloud database. */
export function idempotencyRecords(db: Kysely<CloudDatabase>): IdempotencyRecords {
  let lastSweep = 0;
  return {
    async claimIdempotencyKey(request: IdempotencyRequest, now: number) {
      if (now - lastSweep > SWEEP_INTERVAL_MS) {
        lastSweep = now;
        await db.deleteFrom("idempotency_keys").where("created_at", "<", now - IDEMPOTENCY_TTL_MS)
          .execute();
      }
      const claim = {
        scope: request.scope,
        key: request.key,
        fingerprint: request.fingerprint,
        status: null,
        response: null,
        created_at: now,
      };
      const inserted = await db.insertInto("idempotency_keys").values(claim)
        .onConflict((oc) => oc.columns(["scope", "key"]).doNothing()).executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { state: "new" };
      const row = await db.selectFrom("idempotency_keys").selectAll()
        .where("scope", "=", request.scope).where("key", "=", request.key).executeTakeFirst();
      if (!row || Number(row.created_at) < now - IDEMPOTENCY_TTL_MS) {
        // Expired (or released meanwhile): this request takes the key over.
        await db.insertInto("idempotency_keys").values(claim)
          .onConflict((oc) => oc.columns(["scope", "key"]).doUpdateSet(claim)).execute();
        return { state: "new" };
      }
      if (row.fingerprint !== request.fingerprint) return { state: "mismatch" };
      if (row.status === null || row.response === null) return { state: "running" };
      return { state: "done", status: Number(row.status), body: row.response };
    },
    async completeIdempotencyKey(request, status, body) {
      await db.updateTable("idempotency_keys").set({ status, response: body })
        .where("scope", "=", request.scope).where("key", "=", request.key).execute();
    },
    async releaseIdempotencyKey(request) {
      await db.deleteFrom("idempotency_keys").where("scope", "=", request.scope)
        .where("key", "=", request.key).where("status", "is", null).execute();
    },
  };
}
