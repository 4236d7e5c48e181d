/**
 * The cloud's one view of the MQTT broker, whichever it is: the embedded aedes broker (dev,
 * in-process) or an external Mosquitto reached with MQTT.js. Holds no implementation, so the
 * cloud can import it without loading any broker library.
 * @module
 */

/**
 * Handles one uplink message. The returned promise settles when the message is dealt with
 * (committed or rejected); brokers wait for it before handing over more, which is the ingest's
 * backpressure. It must not reject.
 */
export type UplinkHandler = (topic: string, payload: Uint8Array) => Promise<void>;

/** Options of {@link BrokerLink.publish}. */
export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

/** A connection to the broker for ingest and downlink. */
export interface BrokerLink {
  /** Which MQTT protocol devices speak to this broker: 4 (3.1.1) or 5. */
  readonly protocolVersion: 4 | 5;
  /** The QoS devices subscribe to their downlink with (see `EnrollResponse`); absent: 1. */
  readonly downlinkQos?: 0 | 1;
  /** Starts delivering every device's uplink messages to `handler`. */
  subscribeUplink(handler: UplinkHandler): Promise<void>;
  /** Publishes a downlink message; rejects when the broker cannot take it now. */
  publish(topic: string, payload: string | Uint8Array, options: PublishOptions): Promise<void>;
  /**
   * Calls `handler` when a device's connection ends, where the broker can tell (embedded only;
   * Mosquitto reports it through the device's Last Will alone).
   */
  onDeviceDisconnect?(handler: (deviceId: string) => void): void;
  /** True while the link to the broker is up (for `/metrics`; absent where it cannot tell). */
  connected?(): boolean;
  /** Stops delivering and disconnects (the embedded broker also stops listening). */
  close(): Promise<void>;
}

/** A broker URL without credentials, for logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(invalid URL)";
  }
}
