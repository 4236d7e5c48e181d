/**
 * The shapes of the dialect conformance cases (`store_cases.ts` and the files it gathers).
 * @module
 */
import type { DatabaseLocation } from "../config.ts";
import type { CloudStore } from "../store/store.ts";

/** One behaviour of the store, run on a freshly migrated, empty store. */
export interface StoreCase {
  /** Reads as a sentence; becomes the test name. */
  name: string;
  run(store: CloudStore): Promise<void>;
}

/** One behaviour of the migrations, run on an empty database at `location`. */
export interface MigrationCase {
  name: string;
  run(location: DatabaseLocation): Promise<void>;
}
