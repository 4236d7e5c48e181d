/**
 * A client entry for the kit's own build test: hydrates an empty island registry, so the bundle
 * holds the whole hydration runtime without importing either console.
 * @module
 */
import { hydrateIslands } from "../island_runtime.ts";

hydrateIslands({});
