/**
 * What operators ask the fleet for, shared by the use cases: a command, and the limit of a
 * desired state.
 * @module
 */

/** The largest desired state accepted; it travels as one retained MQTT message. */
export const MAX_DESIRED_BYTES = 256 * 1024;

/** A command as an operator asks for it. */
export interface CommandRequest {
  name: string;
  args?: Record<string, unknown>;
}
