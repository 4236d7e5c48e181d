/**
 * Enrollment: which request gets broker credentials for which device id, and the enrollment
 * tokens that let devices in. The identity model (docs/SECURITY.md):
 *
 * - A device's identity is its **device secret**: random, generated on the device before its
 *   first enrollment, sent with every enrollment over TLS; the cloud keeps only a hash.
 * - Creating a device (an id the cloud does not know, or one deleted with its data kept) needs
 *   an **enrollment token**: the bootstrap `OUTPOST_ENROLL_TOKEN`, or a scoped token from
 *   `POST /api/v1/enrollment-tokens` (labels, expiry, use count; revocable). The device's
 *   secret is recorded.
 * - Re-enrolling an existing id (new credentials, the old ones refused and their session ended)
 *   needs that device's secret. No token does it, the bootstrap token included: a request with
 *   a valid token and another secret becomes an **enrollment request** an operator approves or
 *   rejects; the same request retried learns the outcome.
 * - A revoked or decommissioned device cannot enroll at all, secret or not.
 * @module
 */
import { secretsEqual } from "@outpost/platform/constant_time";
import type { Logger } from "@outpost/platform/log";
import type { Counter } from "@outpost/platform/metrics";
import type { EnrollPending, EnrollRequest, EnrollResponse } from "@outpost/protocol";
import { type DeviceCredentialsProvisioner, ProvisioningError } from "../broker/credentials.ts";
import type { CloudStore, EnrollmentTokenView } from "../store/store.ts";
import {
  ENROLLMENT_TOKEN_PREFIX,
  generateEnrollmentToken,
  hashDeviceSecret,
  hashesEqual,
  hashToken,
} from "./secrets.ts";

/** The broker as devices should reach it. */
export interface PublicBroker {
  /** The first broker URL (what agents before `urls` use). */
  url: string;
  /** Every broker URL, `url` first; absent: `[url]`. */
  urls?: string[];
  protocolVersion: 4 | 5;
  /** The QoS devices subscribe to their downlink with; absent: 1. */
  downlinkQos?: 0 | 1;
}

/** Why an enrollment was refused; the HTTP layer maps each to a status. */
export type EnrollmentRefusal =
  | "unauthorized"
  | "token_expired"
  | "token_revoked"
  | "token_used_up"
  | "device_exists"
  | "device_revoked"
  | "device_decommissioned"
  | "enrollment_rejected"
  | "enrollment_conflict";

/** A refused enrollment: nothing was issued. */
export class EnrollmentRefused extends Error {
  constructor(readonly code: EnrollmentRefusal, message: string) {
    super(message);
    this.name = "EnrollmentRefused";
  }
}

/** What an enrollment gave: credentials, or a request waiting for an operator. */
export type EnrollResult =
  | { kind: "enrolled"; created: boolean; response: EnrollResponse }
  | { kind: "pending"; pending: EnrollPending };

/** Where a request came from, as far as the HTTP layer can tell (for the operator). */
export interface EnrollContext {
  address?: string;
}

/** A new scoped token as an operator asks for it. */
export interface TokenRequest {
  name: string;
  labels?: Record<string, string>;
  /** ms since the epoch. */
  expiresAt?: number;
  maxUses?: number;
}

/** Dependencies of {@link Enrollment}. */
export interface EnrollmentOptions {
  store: Pick<
    CloudStore,
    | "deviceIdentity"
    | "enrollIdentity"
    | "findEnrollmentToken"
    | "getEnrollmentToken"
    | "recordEnrollmentRequest"
    | "createEnrollmentToken"
  >;
  provisioner: DeviceCredentialsProvisioner;
  /** `OUTPOST_ENROLL_TOKEN`: may create devices and ask for approvals, never re-enroll. */
  bootstrapToken: string;
  broker: PublicBroker;
  logger: Logger;
  /** `outpost_enrollments_total{result}`. */
  enrollments?: Counter;
  now?: () => number;
}

/** A token's scope as enrollment applies it. */
interface TokenScope {
  /** Undefined for the bootstrap token. */
  tokenId?: string;
  labels: Record<string, string>;
}

const STATUS_REFUSAL = {
  revoked: "device_revoked",
  decommissioned: "device_decommissioned",
} as const;

/** Enrollment of devices and the tokens that allow it. */
export class Enrollment {
  #options: EnrollmentOptions;
  #now: () => number;

  constructor(options: EnrollmentOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Decides and carries out one enrollment request (see the module's model).
   * @throws EnrollmentRefused when it may not enroll; ProvisioningError when the broker fails.
   */
  async enroll(request: EnrollRequest, context: EnrollContext = {}): Promise<EnrollResult> {
    const { store, logger } = this.#options;
    const id = request.deviceId;
    const identity = await store.deviceIdentity(id);
    const known = identity !== undefined && identity.status !== "deleted";
    const secretHash = request.deviceSecret === undefined
      ? undefined
      : hashDeviceSecret(id, request.deviceSecret);
    const proven = known && identity.secretHash !== null && secretHash !== undefined &&
      hashesEqual(secretHash, identity.secretHash);
    if (proven) {
      this.#refuseInactive(id, identity.status);
      return await this.#issue(request, "rotate");
    }
    const scope = await this.#checkToken(request);
    if (!known) return await this.#issue(request, "create", scope, secretHash ?? null);
    this.#refuseInactive(id, identity.status);
    if (secretHash === undefined) {
      this.#count("refused");
      throw new EnrollmentRefused(
        "device_exists",
        `Device '${id}' is already enrolled; enrolling it again needs its device secret (agents send it since protocol fields of issue 15) or an operator deleting it first`,
      );
    }
    const pending = await store.recordEnrollmentRequest({
      deviceId: id,
      secretHash,
      tokenId: scope.tokenId,
      labels: request.labels,
      arch: request.arch,
      version: request.version,
      address: context.address,
    }, this.#now());
    if (pending.status === "rejected") {
      this.#count("refused");
      throw new EnrollmentRefused(
        "enrollment_rejected",
        `An operator rejected this enrollment request for device '${id}' (request ${pending.id})`,
      );
    }
    this.#count("pending");
    logger.warn("re-enrollment of an existing device without its secret: waiting for approval", {
      deviceId: id,
      requestId: pending.id,
      attempts: pending.attempts,
      address: context.address,
    });
    return {
      kind: "pending",
      pending: {
        status: "pending_approval",
        requestId: pending.id,
        deviceId: id,
        message:
          `Device '${id}' is already enrolled and this request did not present its device secret; an operator must approve request ${pending.id} (POST /api/v1/enrollment-requests/${pending.id}/approve). Retry the same request to learn the outcome.`,
      },
    };
  }

  /** Creates a scoped token; the token itself is in the answer and nowhere else. */
  async createToken(
    request: TokenRequest,
  ): Promise<{ token: string; view: EnrollmentTokenView }> {
    const token = generateEnrollmentToken();
    const view = await this.#options.store.createEnrollmentToken({
      name: request.name,
      tokenHash: hashToken(token),
      labels: request.labels,
      expiresAt: request.expiresAt,
      maxUses: request.maxUses,
    }, this.#now());
    this.#options.logger.info("enrollment token created", {
      tokenId: view.id,
      name: view.name,
      expiresAt: view.expiresAt,
      maxUses: view.maxUses,
    });
    return { token, view };
  }

  #count(result: string): void {
    this.#options.enrollments?.inc({ result });
  }

  #refuseInactive(id: string, status: string): void {
    if (status !== "revoked" && status !== "decommissioned") return;
    this.#count("refused");
    throw new EnrollmentRefused(
      STATUS_REFUSAL[status],
      `Device '${id}' is ${status}; an operator must reinstate it (POST /api/v1/devices/${id}/reinstate) before it can enroll`,
    );
  }

  /** The scope of the request's token. @throws EnrollmentRefused for a missing or bad one. */
  async #checkToken(request: EnrollRequest): Promise<TokenScope> {
    const token = request.token;
    const refuse = (code: EnrollmentRefusal, message: string): never => {
      this.#count("bad_token");
      this.#options.logger.warn("enrollment refused", { deviceId: request.deviceId, code });
      throw new EnrollmentRefused(code, message);
    };
    if (!token) {
      return refuse(
        "unauthorized",
        "An enrollment token is required to create a device or ask to re-enroll one",
      );
    }
    if (token.startsWith(ENROLLMENT_TOKEN_PREFIX)) {
      const view = await this.#options.store.findEnrollmentToken(hashToken(token), this.#now());
      if (view) {
        if (view.state === "active") return { tokenId: view.id, labels: view.labels };
        const words = { revoked: "was revoked", expired: "has expired", used_up: "is used up" };
        return refuse(`token_${view.state}`, `Enrollment token ${view.id} ${words[view.state]}`);
      }
    }
    if (secretsEqual(token, this.#options.bootstrapToken)) return { labels: {} };
    return refuse("unauthorized", "Invalid enrollment token");
  }

  /** Provisions broker credentials and commits the device; ends the old sessions. */
  async #issue(
    request: EnrollRequest,
    mode: "create" | "rotate",
    scope?: TokenScope,
    secretHash?: string | null,
  ): Promise<EnrollResult> {
    const { store, provisioner, logger, broker } = this.#options;
    const id = request.deviceId;
    const labels = await this.#labels(request, scope);
    const credentials = await provisioner.provision(id).catch((error) => {
      // Counted by the failure's code (`error` when unexpected); the HTTP layer maps it.
      this.#count(error instanceof ProvisioningError ? error.code : "error");
      throw error;
    });
    const outcome = await store.enrollIdentity(
      {
        id,
        passwordHash: credentials.passwordHash,
        ...(mode === "create" ? { secretHash: secretHash ?? null, tokenId: scope?.tokenId } : {}),
        labels,
        arch: request.arch,
        version: request.version,
        ackedSeq: request.ackedSeq,
      },
      mode,
      this.#now(),
    );
    if (!outcome.ok) {
      this.#count("refused");
      if (outcome.reason === "token_unusable") {
        throw new EnrollmentRefused("token_used_up", "The enrollment token was used up meanwhile");
      }
      if (outcome.reason === "inactive") {
        throw new EnrollmentRefused("device_revoked", `Device '${id}' was revoked meanwhile`);
      }
      throw new EnrollmentRefused(
        "enrollment_conflict",
        `Device '${id}' changed while enrolling (${outcome.reason}); retry`,
      );
    }
    await provisioner.endSessions(id);
    this.#count(outcome.created ? "created" : "rotated");
    logger.info(outcome.created ? "device enrolled" : "device re-enrolled; password rotated", {
      deviceId: id,
      tokenId: scope?.tokenId,
      arch: request.arch,
      version: request.version,
    });
    return {
      kind: "enrolled",
      created: outcome.created,
      response: {
        deviceId: id,
        mqtt: {
          url: broker.url,
          urls: broker.urls ?? [broker.url],
          username: credentials.username,
          password: credentials.password,
          protocolVersion: broker.protocolVersion,
          downlinkQos: broker.downlinkQos ?? 1,
        },
        ackedSeq: outcome.ackedSeq,
      },
    };
  }

  /**
   * The labels to store: the device's own, with its token's on top (a token's labels are its
   * scope: a device cannot drop or change them). Undefined keeps the stored ones.
   */
  async #labels(
    request: EnrollRequest,
    scope: TokenScope | undefined,
  ): Promise<Record<string, string> | undefined> {
    let tokenLabels = scope?.labels ?? {};
    if (!scope) {
      // Re-enrollment: the token that created the device still scopes its labels.
      const tokenId = (await this.#options.store.deviceIdentity(request.deviceId))?.tokenId;
      if (tokenId) {
        tokenLabels = (await this.#options.store.getEnrollmentToken(tokenId))?.labels ?? {};
      }
    }
    if (!request.labels && Object.keys(tokenLabels).length === 0) return undefined;
    return { ...request.labels, ...tokenLabels };
  }
}
