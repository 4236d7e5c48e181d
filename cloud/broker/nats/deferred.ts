/**
 * The NATS backend while the cluster is still being reached. `startNats` waits for its first
 * connection (retrying forever); the cloud must not wait with it, or it would not answer
 * `/healthz` while the cluster is down — and Kubernetes would restart a healthy cloud during a
 * broker outage. So the cloud gets this link and provisioner at once: uplink starts when the
 * cluster is reached (until then `/readyz` answers 503, as with an unreachable Mosquitto),
 * downlink and credential calls fail fast as "broker unavailable" (the HTTP layer answers 503),
 * and closing before the cluster was reached ends the wait.
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
export function deferredNats(setup: Promise<StartedNats>): StartedNats {
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
    async subscribeUplink(handler) {
      await (await started()).link.subscribeUplink(handler);
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
