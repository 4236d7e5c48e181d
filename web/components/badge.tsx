/**
 * A state as a word in a badge. The colour comes from the state class each console passes
 * (`sync-online`, `severity-critical`, … in app.css); the word carries the meaning.
 * @module
 */
import type { JSX } from "preact";

/** Props of {@link Badge}. */
export interface BadgeProps {
  text: string;
  /** The state class that colours it, e.g. `sync-online`. */
  state: string;
  title?: string;
}

/** A badge. */
export function Badge(props: BadgeProps): JSX.Element {
  return <span class={`badge ${props.state}`} title={props.title}>{props.text}</span>;
}
