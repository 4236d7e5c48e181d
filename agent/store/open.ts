/**
 * Opens the agent database in a data dir and brings its schema up to date.
 * @module
 */
import { join } from "node:path";
import {
  openSqlite,
  type OpenSqliteOptions,
  runMigrations,
  type SqliteHandle,
} from "@outpost/platform/sqlite";
import { agentMigrations } from "./migrations/mod.ts";
import type { AgentDatabase } from "./schema.ts";
import { AgentStore } from "./store.ts";

/** File name of the agent database inside the data dir. */
export const AGENT_DB_FILE = "agent.db";

/** An open, migrated agent store. */
export interface OpenAgentStore {
  store: AgentStore;
  handle: SqliteHandle<AgentDatabase>;
  applied: string[];
}

/** Opens `<dataDir>/agent.db` (creating the dir) and runs pending migrations. */
export async function openAgentStore(
  dataDir: string,
  options: OpenSqliteOptions = {},
): Promise<OpenAgentStore> {
  await Deno.mkdir(dataDir, { recursive: true });
  const handle = openSqlite<AgentDatabase>(join(dataDir, AGENT_DB_FILE), options);
  try {
    const applied = await runMigrations(handle.db, agentMigrations);
    return { store: new AgentStore(handle.db, handle.raw), handle, applied };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
