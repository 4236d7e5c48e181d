/**
 * The NATS backend while the cluster is still being reached. `startNats` waits for its first
 * connection (retrying forever); the cloud must not wait with it, or it would not answer
 * `/healthz` while the cluster is down — and Kubernetes would restart a healthy cloud during a
 * broker outage. So the cloud gets this link and provisioner at once: uplink starts when the
 * cluster is reached (the cloud is ready meanwhile, as with an unreachable Mosquitto: its API and
 * console work, `connected()` is false for the broker metric and alert), downlink and credential
 * calls fail fast as "broker unavailable" (the HTTP layer answers 503), and closing before the
 * cluster was reached ends the wait. A backend that cannot start at all goes to `onFailure`.
 * @module
 */
import type { DeviceCredentialsProvisioner } from "../credentials.ts";
import { ProvisioningError } from "../credentials.ts";
import type { BrokerLink } from "../link.ts";

/** What {@link deferredNats} needs of a started backend. */
export interface StartedNats {
  link: BrokerLink;
  provisioner: DeviceCredentialsProvisioner;
}

/** A link and provisioner that stand in for `setup` until it resolves, then pass through. */
export function deferredNats(
  setup: Promise<StartedNats>,
  onFailure: (error: unknown) => void,
): StartedNats {
  let current: StartedNats | undefined;
  let closed = false;
  let stopWaiting!: (error: Error) => void;
  const stopped = new Promise<never>((_, reject) => {
    stopWaiting = reject;
  });
  stopped.catch(() => {});
  setup.then((started) => {
    if (closed) started.link.close().catch(() => {});
    else current = started;
  }, () => {});
  const started = (): Promise<StartedNats> =>
    current ? Promise.resolve(current) : Promise.race([setup, stopped]);
  const notYet = (what: string) =>
    new ProvisioningError(
      "broker_unavailable",
      `Cannot ${what} now: the NATS cluster has not been reached yet`,
    );

  const link: BrokerLink = {
    protocolVersion: 4,
    downlinkQos: 0,
    subscribeUplink(handler) {
      // Resolves at once, as MQTT.js does with Mosquitto down: the cloud is ready to serve its
      // API and console during a broker outage; ingest starts when the cluster is reached.
      started().then(
        (ready) => ready.link.subscribeUplink(handler),
        (error) => {
          if (!closed) onFailure(error);
        },
      ).catch((error) => onFailure(error));
      return Promise.resolve();
    },
    publish(topic, payload, options) {
      if (!current) return Promise.reject(notYet("publish downlink"));
      return current.link.publish(topic, payload, options);
    },
    onDeviceDisconnect(handler) {
      setup.then((ready) => ready.link.onDeviceDisconnect?.(handler), () => {});
    },
    connected: () => current?.link.connected?.() ?? false,
    async close() {
      closed = true;
      stopWaiting(new Error("The cloud stopped before the NATS cluster was reached"));
      await current?.link.close();
    },
  };
  const provisioner: DeviceCredentialsProvisioner = {
    provision(deviceId) {
      return current ? current.provisioner.provision(deviceId) : Promise.reject(notYet("enroll"));
    },
    endSessions(deviceId) {
      return current
        ? current.provisioner.endSessions(deviceId)
        : Promise.reject(notYet("end sessions"));
    },
    revoke(deviceId) {
      return current ? current.provisioner.revoke(deviceId) : Promise.reject(notYet("revoke"));
    },
  };
  return { link, provisioner };
}
