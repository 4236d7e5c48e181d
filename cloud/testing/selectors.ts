/**
 * Selectors for tests.
 * @module
 */
import { parseSelector, type Selector } from "../fleet/selector.ts";

/** A selector that must parse. */
export function parsed(text: string): Selector {
  const result = parseSelector(text);
  if (!result.ok) throw result.error;
  return result.selector;
}
