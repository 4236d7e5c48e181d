/**
 * What the agent console reads from the store and the one thing it writes (an event, through
 * the same store call as `POST /api/v1/events`): a narrow view, so the pages cannot reach the
 * outbox, migrations or sync state.
 * @module
 */
import type { AgentStore } from "../store/store.ts";

/** The store as the console sees it. */
export type ConsoleStore = Pick<
  AgentStore,
  | "generation"
  | "listSensors"
  | "sensorActivity"
  | "queryReadings"
  | "aggregateReadings"
  | "listEvents"
  | "insertEvent"
  | "outboxStats"
  | "readConfig"
>;
