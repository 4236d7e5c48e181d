/**
 * The Outpost wire protocol v1: topics, message schemas and record types. The cloud imports
 * this module; it is the one definition of the contract.
 * @module
 */
export * from "./topics.ts";
export * from "./messages.ts";
export * from "./records.ts";
export * from "./trace.ts";
export * from "./fields.ts";
export * from "./labels.ts";
