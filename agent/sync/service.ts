/**
 * The sync service: enroll (with backoff, never blocking local features), hold one MQTT
 * connection with a Last Will and jittered reconnects, drive the outbox publisher and the
 * downlink, and report the connection state for `GET /api/v1/sync`. While it backs off it
 * probes the cloud's `/healthz` (`cloud_probe.ts`) and retries soon after the cloud is back.
 * @module
 */
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "@outpost/platform/log";
import type { Tracing } from "@outpost/platform/trace";
import type { SyncConnection, SyncProblem } from "./state.ts";
import {
  Ack,
  brokerUrls,
  Command,
  decodeMessage,
  Desired,
  type Hello,
  type Status,
} from "@outpost/protocol";
import { parseTopic, topics } from "@outpost/protocol";
import type { AgentStore } from "../store/store.ts";
import { type Backoff, createBackoff } from "./backoff.ts";
import { CloudProbe, sleep } from "./cloud_probe.ts";
import {
  type Credentials,
  forgetCredentials,
  loadCredentials,
  saveCredentials,
} from "./credentials.ts";
import { RuntimeSettings } from "./desired_settings.ts";
import { DownlinkHandler } from "./downlink.ts";
import { enroll, EnrollError, EnrollPendingError } from "./enroll.ts";
import { loadDeviceSecret } from "./identity.ts";
import { OutboxPublisher } from "./publisher.ts";
import { describeConnectionError, plaintextPasswordRefusal, redactBrokerUrl } from "./transport.ts";

/** Options of {@link SyncService}. */
export interface SyncServiceOptions {
  store: AgentStore;
  logger: Logger;
  deviceId: string;
  dataDir: string;
  cloudUrl: string;
  enrollToken?: string;
  /**
   * Override the broker URLs enrollment returned (`OUTPOST_MQTT_URL`): tried in order, the
   * next one after a connection to the current one failed or dropped.
   */
  mqttUrls?: string[];
  /** CA certificate file for `mqtts://`. */
  mqttCa?: string;
  /** Send the password over plaintext to a non-loopback broker (trusted networks only). */
  mqttAllowPlaintext?: boolean;
  version: string;
  /** Sent at enrollment (`OUTPOST_LABELS`). */
  labels?: Record<string, string>;
  /**
   * The settings desired state changes; by default the logger's level and 30 days of
   * retention as the base.
   */
  settings?: RuntimeSettings;
  /** Tuning, mostly for tests. */
  backoff?: Backoff;
  /** Retries while the cloud holds or refuses the enrollment (default 15 s up to 10 min). */
  refusedBackoff?: Backoff;
  /** Looks at the cloud while backing off; default: `/healthz` of `cloudUrl` every ~2 s. */
  probe?: CloudProbe;
  ackTimeoutMs?: number;
  statusIntervalMs?: number;
  /**
   * After a (re)connect the publisher waits for the answer to `up/hello` (the cloud's ack
   * position) at most this long before it resends from its own acked seq (default 3 s; a
   * cloud that predates hello never answers).
   */
  helloTimeoutMs?: number;
  /** Upload spans linked to the writes (see the publisher). */
  tracing?: Tracing;
}

/** `lastError` of a device that must enroll and has no enrollment token. */
export const MISSING_ENROLL_TOKEN = "OUTPOST_ENROLL_TOKEN is not set: enrolling needs an " +
  "operator's approval, or fails where the cloud requires a token (writes queue in the outbox)";

/** MQTT CONNACK codes meaning "these credentials are refused" (3.1.1 and 5). */
const AUTH_REFUSED = new Set([4, 5, 134, 135]);
const SESSION_EXPIRY_S = 7 * 24 * 3600;
/** Bounded: past this, waiting longer only delays the reconnect (the probe covers outages). */
const BACKOFF_MAX_MS = 30_000;
/** Socket errors meaning "nobody answers there" rather than "something is misconfigured". */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EPIPE|timed? ?out|closed|lost/i;

/** Default of {@link SyncServiceOptions.helloTimeoutMs}. */
const HELLO_TIMEOUT_MS = 3_000;

/** Keeps the device in sync with the cloud while the process runs. */
export class SyncService {
  #options: SyncServiceOptions;
  #state: SyncConnection["state"] = "connecting";
  #lastError: string | null = null;
  #problem: SyncProblem | null = null;
  /** When the current trouble began (first failure since the last connection). */
  #troubleSince: number | null = null;
  #onlineSince: number | null = null;
  #nextAttemptAt: number | null = null;
  #backoff: Backoff;
  #refusedBackoff: Backoff;
  #probe: CloudProbe;
  /** Aborted by stop(): ends every wait at once. */
  #stopping = new AbortController();
  /** The pending reconnect wait; a newer schedule replaces it. */
  #reconnectWait: AbortController | undefined;
  #client: MqttClient | undefined;
  #publisher: OutboxPublisher;
  #downlink: DownlinkHandler;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #statusTimer: ReturnType<typeof setInterval> | undefined;
  #messageChain: Promise<void> = Promise.resolve();
  /** Rejecters of publishes waiting for a PUBACK; a lost connection fails them at once. */
  #awaitingPuback = new Set<(error: Error) => void>();
  #missingEnrollToken = false;
  /** The broker URLs of this session, in order, and the one in use. */
  #urls: string[] = [];
  #urlIndex = 0;
  /** What {@link #connect} needs to open a connection to another URL. */
  #session: { credentials: Credentials; ca: string | undefined } | undefined;
  /** Counts connections, so a wait that outlived its connection does nothing. */
  #connections = 0;
  /** Ends the wait for the hello's answer on the current connection, while one is waiting. */
  #helloAnswered: (() => void) | undefined;

  constructor(options: SyncServiceOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? createBackoff({ initialMs: 500, maxMs: BACKOFF_MAX_MS });
    this.#probe = options.probe ?? new CloudProbe({ cloudUrl: options.cloudUrl });
    this.#refusedBackoff = options.refusedBackoff ??
      createBackoff({ initialMs: 15_000, maxMs: 600_000 });
    this.#publisher = new OutboxPublisher({
      store: options.store,
      deviceId: options.deviceId,
      logger: options.logger.child({ part: "publisher" }),
      publish: (topic, payload) => this.#publish(topic, payload, { qos: 1 }),
      ackTimeoutMs: options.ackTimeoutMs,
      tracing: options.tracing,
    });
    this.#downlink = new DownlinkHandler({
      store: options.store,
      logger: options.logger.child({ part: "downlink" }),
      context: { logger: options.logger, resync: () => this.#publisher.resync() },
      settings: options.settings ??
        new RuntimeSettings(
          { logLevel: options.logger.getLevel(), retentionDays: 30 },
          options.logger,
        ),
    });
  }

  /** The connection view for `GET /api/v1/sync`. */
  connection(): SyncConnection {
    const since = this.#state === "online" ? this.#onlineSince : this.#troubleSince;
    return {
      state: this.#state,
      lastError: this.#lastError,
      problem: this.#problem,
      since: since === null ? null : new Date(since).toISOString(),
      nextAttemptAt: this.#nextAttemptAt === null || this.#state === "online"
        ? null
        : new Date(this.#nextAttemptAt).toISOString(),
      brokerUrl: this.#urls.length ? redactBrokerUrl(this.#urls[this.#urlIndex]) : null,
    };
  }

  /**
   * True while the device must enroll (no stored credentials for this cloud and device) and has
   * no OUTPOST_ENROLL_TOKEN to do it with.
   */
  needsEnrollToken(): boolean {
    return this.#missingEnrollToken;
  }

  /** The publisher, for metrics and tests. */
  get publisher(): OutboxPublisher {
    return this.#publisher;
  }

  /** Starts enrolling and connecting in the background; returns at once. */
  async start(): Promise<void> {
    await this.#publisher.start();
    // Known when start returns (before the agent's `ready`), so /readyz and the metric show it
    // from the first probe; #credentials logs it and keeps it up to date.
    const { enrollToken, dataDir, cloudUrl, deviceId } = this.#options;
    if (!enrollToken) {
      const stored = await loadCredentials(dataDir);
      this.#missingEnrollToken = !(stored?.cloudUrl === cloudUrl && stored.deviceId === deviceId);
    }
    this.#connectLoop();
  }

  /** Publishes an offline status, closes the connection and stops the publisher. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    clearTimeout(this.#timer);
    clearInterval(this.#statusTimer);
    const client = this.#client;
    if (client?.connected) {
      await this.#publish(
        topics.status(this.#options.deviceId),
        JSON.stringify(this.#status(false)),
        {
          qos: 1,
          retain: true,
        },
        2000,
      ).catch(() => {});
    }
    // Forced: a graceful end waits for the PUBACK of every publish MQTT.js still tracks, and a
    // batch in flight when an earlier connection dropped is never resent nor acked, so SIGTERM
    // hung until the agent was killed (found by the chaos suite). The offline status is acked
    // above; everything else unacked stays in the outbox for the next start.
    await client?.endAsync(true).catch(() => {});
    await this.#publisher.stop();
  }

  #fail(message: string, problem: SyncProblem): void {
    this.#lastError = message;
    this.#problem = problem;
    this.#troubleSince ??= Date.now();
  }

  #connected(): void {
    this.#state = "online";
    this.#lastError = null;
    this.#problem = null;
    this.#troubleSince = null;
    this.#onlineSince = Date.now();
    this.#nextAttemptAt = null;
    this.#backoff.reset();
    this.#probe.reset();
  }

  /**
   * Waits `delayMs` before the next attempt, or less when the probe sees the cloud come back;
   * false when the wait was cancelled (stop, or a newer schedule through `signal`).
   */
  async #backOff(delayMs: number, signal?: AbortSignal): Promise<boolean> {
    const abort = signal ? AbortSignal.any([this.#stopping.signal, signal]) : this.#stopping.signal;
    const planned = Date.now() + delayMs;
    this.#nextAttemptAt = planned;
    const outcome = delayMs > this.#probe.intervalMs
      ? await this.#probe.wait(delayMs, abort)
      : (await sleep(delayMs, abort))
      ? "elapsed"
      : "aborted";
    if (outcome === "cloud_back") {
      this.#options.logger.info("the cloud answers again; retrying now", {
        plannedDelayMs: delayMs,
      });
    }
    // A newer wait (a reconnect scheduled meanwhile) owns the field now.
    if (this.#nextAttemptAt === planned) this.#nextAttemptAt = null;
    return outcome !== "aborted";
  }

  async #credentials(): Promise<Credentials | undefined> {
    const { dataDir, cloudUrl, enrollToken, deviceId, logger } = this.#options;
    const stored = await loadCredentials(dataDir);
    if (stored && stored.cloudUrl === cloudUrl && stored.deviceId === deviceId) return stored;
    let deviceSecret: string;
    try {
      deviceSecret = await loadDeviceSecret(dataDir);
    } catch (error) {
      this.#state = "refused";
      this.#fail(`Cannot read the device secret: ${(error as Error).message}`, "configuration");
      logger.error("cannot read the device secret; not enrolling", { error });
      return undefined;
    }
    if (!enrollToken) {
      // Loud on purpose (issue 16): a missing Secret must not leave a fleet silently unenrolled.
      // Without a token the cloud may still enroll the device once an operator approves it, so
      // the agent goes on; logged at every start, in lastError, /readyz and a metric.
      this.#missingEnrollToken = true;
      this.#fail(MISSING_ENROLL_TOKEN, "configuration");
      logger.error("OUTPOST_ENROLL_TOKEN is not set", {
        cloudUrl,
        deviceId,
        effect: "enrolling needs an operator's approval, or fails where the cloud requires a token",
      });
    }
    while (!this.#stopped) {
      try {
        const { ackedSeq } = await this.#options.store.outboxStats();
        const response = await enroll({
          cloudUrl,
          token: enrollToken,
          deviceId,
          deviceSecret,
          arch: Deno.build.arch,
          version: this.#options.version,
          labels: this.#options.labels,
          ackedSeq,
        });
        if (response.ackedSeq > ackedSeq) {
          const offset = await this.#options.store.rebaseSeqs(response.ackedSeq);
          await this.#publisher.rebased();
          logger.warn(
            "the cloud holds records this device no longer has; renumbered ours after them",
            {
              cloudAckedSeq: response.ackedSeq,
              localAckedSeq: ackedSeq,
              offset,
            },
          );
        }
        const credentials: Credentials = {
          cloudUrl,
          enrolledAt: new Date().toISOString(),
          deviceId: response.deviceId,
          mqtt: response.mqtt,
        };
        await saveCredentials(dataDir, credentials);
        logger.info("enrolled", {
          cloudUrl,
          deviceId,
          mqttUrls: brokerUrls(response.mqtt).map(redactBrokerUrl),
        });
        this.#missingEnrollToken = false;
        this.#state = "connecting";
        this.#backoff.reset();
        this.#refusedBackoff.reset();
        return credentials;
      } catch (error) {
        let message = (error as Error).message;
        let delay: number;
        let problem = enrollmentProblem(error as Error);
        if (error instanceof EnrollPendingError) {
          this.#state = "pending_approval";
          problem = "enrollment_pending";
          delay = this.#refusedBackoff.next();
          logger.warn("enrollment waits for an operator's approval; will ask again", {
            requestId: error.requestId,
            retryInMs: delay,
          });
        } else if (error instanceof EnrollError && error.permanent) {
          this.#state = "refused";
          if (!enrollToken && error.code === "unauthorized") {
            message = `No OUTPOST_ENROLL_TOKEN set and the cloud requires one: ${message}`;
          }
          delay = this.#refusedBackoff.next();
          logger.warn("enrollment refused; will ask again", { error: message, retryInMs: delay });
        } else {
          this.#state = "connecting";
          delay = this.#backoff.next();
          logger.warn("enrollment failed; will retry", { error: message, retryInMs: delay });
        }
        if (!enrollToken && !message.includes("OUTPOST_ENROLL_TOKEN")) {
          message = `OUTPOST_ENROLL_TOKEN is not set; ${message}`;
        }
        this.#fail(message, problem);
        await this.#backOff(delay);
      }
    }
    return undefined;
  }

  async #connectLoop(): Promise<void> {
    const credentials = await this.#credentials();
    if (!credentials || this.#stopped) return;
    let ca: string | undefined;
    if (this.#options.mqttCa) {
      try {
        ca = await Deno.readTextFile(this.#options.mqttCa);
      } catch (error) {
        this.#fail(
          `Cannot read OUTPOST_MQTT_CA file '${this.#options.mqttCa}': ${(error as Error).message}`,
          "configuration",
        );
        this.#options.logger.error("cannot read the MQTT CA file", {
          path: this.#options.mqttCa,
          error,
        });
        return;
      }
    }
    this.#startSession(credentials, ca);
  }

  /**
   * Checks every broker URL of these credentials (or of OUTPOST_MQTT_URL) and connects to the
   * first. One URL that would carry the password in plaintext stops them all: it is a
   * configuration error to fix, named in `lastError`, not a node to skip silently.
   */
  #startSession(credentials: Credentials, ca: string | undefined): void {
    const { logger } = this.#options;
    const urls = this.#options.mqttUrls ?? brokerUrls(credentials.mqtt);
    const refusals = credentials.mqtt.password
      ? urls.map((url) =>
        plaintextPasswordRefusal(url, { allowed: this.#options.mqttAllowPlaintext })
      ).filter((refusal) => refusal !== undefined)
      : [];
    if (refusals.length) {
      const refusal = refusals.join("; ");
      this.#state = "offline";
      this.#fail(refusal, "configuration");
      logger.error("not connecting: the password would travel in plaintext", {
        urls: urls.map(redactBrokerUrl),
        error: refusal,
      });
      if (this.#options.mqttUrls === undefined) {
        // The cloud handed this URL out: enroll again later, it may have been corrected.
        // (Our own OUTPOST_MQTT_URL only changes with a restart.)
        forgetCredentials(this.#options.dataDir).then(() => {
          if (this.#stopped) return;
          this.#timer = setTimeout(() => this.#connectLoop(), 60_000);
        });
      }
      return;
    }
    this.#urls = urls;
    this.#urlIndex = 0;
    this.#session = { credentials, ca };
    this.#connect();
  }

  /** Opens a connection to the current URL of the session. */
  #connect(): void {
    const { deviceId, logger } = this.#options;
    const { credentials, ca } = this.#session!;
    const url = this.#urls[this.#urlIndex];
    const shownUrl = redactBrokerUrl(url);
    const protocolVersion = credentials.mqtt.protocolVersion;
    const options: IClientOptions = {
      clientId: deviceId,
      username: credentials.mqtt.username,
      password: credentials.mqtt.password,
      protocolVersion,
      clean: false,
      keepalive: 30,
      connectTimeout: 10_000,
      reconnectPeriod: 0, // our own jittered backoff below
      resubscribe: false,
      will: {
        topic: topics.status(deviceId),
        payload: Buffer.from(JSON.stringify(this.#status(false))),
        qos: 1,
        retain: true,
      },
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      ...(ca ? { ca, rejectUnauthorized: true } : {}),
    };
    const of = this.#urls.length > 1 ? { of: this.#urls.length, index: this.#urlIndex + 1 } : {};
    logger.info("connecting to the broker", { url: shownUrl, ...of, protocolVersion });
    const client = mqtt.connect(url, options);
    this.#client = client;

    client.on("connect", () => {
      this.#connected();
      const connection = ++this.#connections;
      logger.info("broker connected", { url: shownUrl, ...of });
      // Subscribe first: the cloud answers "online" with the ack, desired state and commands.
      const qos = credentials.mqtt.downlinkQos;
      client.subscribe(topics.deviceDownlink(deviceId), { qos }, (error, granted) => {
        if (error || granted?.some((g) => g.qos === 128)) {
          this.#fail(
            `Subscription to the downlink refused: ${error?.message ?? "denied by the broker"}`,
            "broker_refused",
          );
          logger.error("downlink subscription refused", { error });
        }
        this.#publishStatus();
        clearInterval(this.#statusTimer);
        this.#statusTimer = setInterval(
          () => this.#publishStatus(),
          this.#options.statusIntervalMs ?? 30_000,
        );
        this.#greet(connection);
      });
    });

    client.on("message", (topic, payload, packet) => {
      const parsed = parseTopic(topic);
      if (parsed?.kind === "ack" && parsed.deviceId === deviceId && parsed.direction === "down") {
        // Not queued behind the other downlink messages: the publisher merges the acks that
        // arrive while it writes one (they are cumulative), so a burst costs one transaction.
        const ack = decodeMessage(Ack, payload);
        if (!ack.ok) return logger.warn("malformed ack ignored", { error: ack.error });
        this.#notes(ack.value);
        const stored = this.#publisher.acknowledge(ack.value.upTo)
          .catch((error) => logger.warn("handling an ack failed", { topic, error }));
        // A retained copy may be stale or gone (a clustered broker); an ack sent to this
        // connection (the hello's answer, or a new ack) is the cloud's position now.
        const answered = packet.retain ? undefined : this.#helloAnswered;
        if (answered) stored.then(answered);
        return;
      }
      this.#messageChain = this.#messageChain.then(() => this.#onMessage(topic, payload))
        .catch((error) => logger.warn("handling a downlink message failed", { topic, error }));
    });

    client.on("error", (error) => {
      const code = (error as { code?: number | string }).code;
      const message = describeConnectionError(error, {
        url: shownUrl,
        caPath: this.#options.mqttCa,
      });
      const refused = typeof code === "number" && AUTH_REFUSED.has(code);
      this.#fail(message, refused ? "credentials_refused" : brokerProblem(message));
      logger.warn("broker error", { url: shownUrl, error: message, code });
      if (refused) {
        // Our credentials are refused (rotated, or the cloud forgot us): enroll again.
        logger.warn("broker refused our credentials; enrolling again");
        client.removeAllListeners("close");
        client.end(true);
        this.#onClosed();
        forgetCredentials(this.#options.dataDir).then(() => this.#scheduleReconnect(true));
      }
    });

    client.on("close", () => {
      this.#onClosed();
      this.#scheduleReconnect(false);
    });
  }

  /**
   * Says hello (the cloud answers with its ack position and the desired state), then lets the
   * publisher send once the answer's ack is stored, or after the hello timeout: so what the
   * cloud already holds is not sent again even when no retained ack reached this connection.
   */
  async #greet(connection: number): Promise<void> {
    const answered = new Promise<void>((resolve) => this.#helloAnswered = resolve);
    const hello = await this.#hello().catch(() => undefined);
    const sent = hello === undefined ? undefined : this.#publish(
      topics.hello(this.#options.deviceId),
      JSON.stringify(hello),
      { qos: 1 },
    ).then(() => true, (error) => {
      this.#options.logger.debug("hello publish failed", { error });
      return false;
    });
    const timeoutMs = this.#options.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
    const outcome = await Promise.race([
      answered.then(() => "answered" as const),
      sleep(timeoutMs, this.#stopping.signal).then(() => "timeout" as const),
      sent?.then((ok) => ok ? new Promise<never>(() => {}) : "failed" as const) ??
        "failed" as const,
    ]);
    if (connection !== this.#connections) return;
    this.#helloAnswered = undefined;
    if (this.#stopped || !this.#client?.connected) return;
    if (outcome !== "answered") {
      this.#options.logger.info("no answer to hello; resending from our own acked seq", {
        outcome,
        timeoutMs,
      });
    }
    this.#publisher.connected();
  }

  async #hello(): Promise<Hello> {
    const { store, version } = this.#options;
    const [stats, desiredVersion] = await Promise.all([
      store.outboxStats(),
      store.desiredVersion(),
    ]);
    return {
      v: 1,
      agentVersion: version,
      outbox: { head: stats.lastSeq, acked: stats.ackedSeq },
      desiredVersion,
    };
  }

  /** Logs what an ack says the cloud did not take, and shows it as the last error. */
  #notes(ack: Ack): void {
    const { logger } = this.#options;
    const range = (note: { from?: number; to?: number }) =>
      note.from === undefined
        ? "a batch"
        : note.from === note.to
        ? `record ${note.from}`
        : `records ${note.from}..${note.to}`;
    if (ack.refused) {
      const message = `The cloud refused ${
        range(ack.refused)
      } (${ack.refused.reason}): ${ack.refused.message}`;
      this.#fail(message, "records_refused");
      logger.warn("the cloud refused a batch; nothing of it was stored", {
        reason: ack.refused.reason,
        from: ack.refused.from,
        to: ack.refused.to,
        detail: ack.refused.message,
        cloudAckedSeq: ack.upTo,
      });
    }
    if (ack.dropped?.length) {
      const first = ack.dropped[0];
      this.#fail(
        `The cloud dropped ${ack.dropped.length} record${
          ack.dropped.length === 1 ? "" : "s"
        } that break a field rule, e.g. ${range(first)}: ${first.message}`,
        "records_refused",
      );
      logger.warn("the cloud dropped records that break a field rule; the rest is stored", {
        count: ack.dropped.length,
        dropped: ack.dropped.slice(0, 10),
      });
    }
  }

  #onClosed(): void {
    clearInterval(this.#statusTimer);
    // Without this a publish in flight waits for its timeout and stalls the publisher.
    for (const fail of [...this.#awaitingPuback]) fail(new Error("broker connection lost"));
    if (this.#state === "online") {
      this.#options.logger.warn("broker connection lost");
      if (!this.#stopped) this.#fail("The connection to the broker was lost", "broker_unreachable");
    } else if (!this.#stopped && this.#problem === null) {
      this.#fail("The broker closed the connection", "broker_unreachable");
    }
    if (!this.#stopped) this.#state = this.#state === "connecting" ? "connecting" : "offline";
    this.#publisher.disconnected();
  }

  async #scheduleReconnect(reenroll: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#reconnectWait?.abort();
    const wait = new AbortController();
    this.#reconnectWait = wait;
    // Within a round of several URLs the next one is tried soon (jittered, so a fleet leaving a
    // dead node does not arrive at once); the backoff grows once every URL failed.
    const nextRound = reenroll || this.#urls.length <= 1 ||
      this.#urlIndex === this.#urls.length - 1;
    const delay = nextRound ? this.#backoff.next() : Math.round(100 + Math.random() * 400);
    this.#options.logger.debug("reconnecting later", { delayMs: delay, reenroll });
    if (!(await this.#backOff(delay, wait.signal)) || this.#stopped) return;
    if (reenroll) {
      this.#client = undefined;
      this.#connectLoop();
    } else if (this.#urls.length > 1) {
      this.#failOver();
    } else {
      this.#client?.reconnect();
    }
  }

  /**
   * Leaves the current URL for the next one (after the last, the first): a new client, as
   * MQTT.js's own `servers` rotation would take every URL's scheme and TLS options from one
   * set. What the old client had in flight is resent by the publisher from the acked seq.
   */
  #failOver(): void {
    const old = this.#client;
    old?.removeAllListeners();
    old?.on("error", () => {}); // a late socket error of the closed client must not throw
    old?.end(true);
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    this.#options.logger.info("trying the next broker URL", {
      url: redactBrokerUrl(this.#urls[this.#urlIndex]),
      index: this.#urlIndex + 1,
      of: this.#urls.length,
    });
    this.#connect();
  }

  #status(online: boolean): Status {
    return {
      online,
      version: this.#options.version,
      arch: Deno.build.arch,
      ts: new Date().toISOString(),
    };
  }

  async #publishStatus(): Promise<void> {
    const { lastSeq } = await this.#options.store.outboxStats().catch(() => ({
      lastSeq: undefined,
    }));
    const status = { ...this.#status(true), ...(lastSeq === undefined ? {} : { lastSeq }) };
    await this.#publish(topics.status(this.#options.deviceId), JSON.stringify(status), {
      qos: 1,
      retain: true,
    }).catch((error) => this.#options.logger.debug("status publish failed", { error }));
  }

  #publish(
    topic: string,
    payload: string,
    options: { qos: 0 | 1; retain?: boolean },
    timeoutMs = 30_000,
  ): Promise<void> {
    const client = this.#client;
    if (!client?.connected) return Promise.reject(new Error("not connected to the broker"));
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        this.#awaitingPuback.delete(fail);
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new Error(`no PUBACK within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#awaitingPuback.add(fail);
      client.publish(topic, payload, options, (error) => {
        if (error) return fail(error);
        clearTimeout(timer);
        this.#awaitingPuback.delete(fail);
        resolve();
      });
    });
  }

  async #onMessage(topic: string, payload: Uint8Array): Promise<void> {
    const { logger, deviceId } = this.#options;
    const parsed = parseTopic(topic);
    if (!parsed || parsed.deviceId !== deviceId || parsed.direction !== "down") {
      logger.warn("message on an unexpected topic ignored", { topic });
      return;
    }
    // Acks never get here: the message listener hands them to the publisher directly.
    if (parsed.kind === "desired") {
      if (payload.byteLength === 0) return; // a cleared retained message
      const desired = decodeMessage(Desired, payload);
      if (!desired.ok) {
        return logger.warn("malformed desired state ignored", { error: desired.error });
      }
      await this.#downlink.desired(desired.value);
    } else if (parsed.kind === "cmd") {
      const command = decodeMessage(Command, payload);
      if (!command.ok) return logger.warn("malformed command ignored", { error: command.error });
      await this.#downlink.command(command.value);
    }
  }
}

/** What a failed enrollment means for the operator. */
function enrollmentProblem(error: Error): SyncProblem {
  if (!(error instanceof EnrollError)) return "cloud_error";
  if (error.permanent) return "enrollment_refused";
  return /^Cannot reach/.test(error.message) ? "cloud_unreachable" : "cloud_error";
}

/** What a broker error (already described) means for the operator. */
function brokerProblem(message: string): SyncProblem {
  if (/^TLS certificate/.test(message)) return "tls";
  return UNREACHABLE.test(message) ? "broker_unreachable" : "broker_refused";
}
