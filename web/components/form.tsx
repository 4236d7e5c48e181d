/**
 * Form building blocks: every control has a visible label, its hint and error text are tied to
 * it with `aria-describedby`, and a failed submit lists its errors in a summary whose links move
 * focus to the fields (the no-JavaScript path has no other way to point at them).
 * @module
 */
import type { ComponentChildren, JSX } from "preact";

/** Errors by field name. */
export type FieldErrors = Record<string, string | undefined>;

/** Props shared by the controls. */
export interface ControlProps {
  /** The form field name; also the control's id unless `id` is given. */
  name: string;
  label: string;
  id?: string;
  hint?: string;
  error?: string;
  required?: boolean;
}

/** ids of a control and its hint/error texts. */
export function fieldIds(props: ControlProps): { id: string; hint: string; error: string } {
  const id = props.id ?? `field-${props.name}`;
  return { id, hint: `${id}-hint`, error: `${id}-error` };
}

function describedBy(props: ControlProps): string | undefined {
  const ids = fieldIds(props);
  const list = [props.hint ? ids.hint : "", props.error ? ids.error : ""].filter(Boolean);
  return list.length ? list.join(" ") : undefined;
}

/** The label, hint and error around a control. */
export function Field(props: ControlProps & { children: ComponentChildren }): JSX.Element {
  const ids = fieldIds(props);
  return (
    <div class={props.error ? "field field-invalid" : "field"}>
      <label for={ids.id}>
        {props.label}
        {!props.required && (
          <>
            {" "}
            <span class="optional">(optional)</span>
          </>
        )}
      </label>
      {props.hint && <p class="hint" id={ids.hint}>{props.hint}</p>}
      {props.children}
      {props.error && (
        <p class="error" id={ids.error}>
          <span class="visually-hidden">Error:</span> {props.error}
        </p>
      )}
    </div>
  );
}

/** Props of {@link TextInput}. */
export interface TextInputProps extends ControlProps {
  value?: string;
  type?: "text" | "password" | "search" | "datetime-local";
  maxLength?: number;
  autocomplete?: string;
  onInput?: (value: string) => void;
}

/** A labelled text input. */
export function TextInput(props: TextInputProps): JSX.Element {
  const ids = fieldIds(props);
  const onInput = props.onInput;
  return (
    <Field {...props}>
      <input
        id={ids.id}
        name={props.name}
        // Preact 11 types each input type separately; these four share every attribute used here.
        type={(props.type ?? "text") as "text"}
        value={props.value ?? ""}
        required={props.required}
        maxLength={props.maxLength}
        autocomplete={props.autocomplete}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy(props)}
        onInput={onInput && ((event) => onInput(event.currentTarget.value))}
      />
    </Field>
  );
}

/** Props of {@link TextArea}. */
export interface TextAreaProps extends ControlProps {
  value?: string;
  rows?: number;
  maxLength?: number;
  onInput?: (value: string) => void;
}

/** A labelled multi-line text input. */
export function TextArea(props: TextAreaProps): JSX.Element {
  const ids = fieldIds(props);
  const onInput = props.onInput;
  return (
    <Field {...props}>
      <textarea
        id={ids.id}
        name={props.name}
        rows={props.rows ?? 3}
        required={props.required}
        maxLength={props.maxLength}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy(props)}
        onInput={onInput && ((event) => onInput(event.currentTarget.value))}
        value={props.value ?? ""}
      />
    </Field>
  );
}

/** One choice of a {@link Select}. */
export interface SelectOption {
  value: string;
  label: string;
}

/** Props of {@link Select}. */
export interface SelectProps extends ControlProps {
  value?: string;
  options: SelectOption[];
  onInput?: (value: string) => void;
}

/** A labelled drop-down. */
export function Select(props: SelectProps): JSX.Element {
  const ids = fieldIds(props);
  const onInput = props.onInput;
  return (
    <Field {...props}>
      <select
        id={ids.id}
        name={props.name}
        required={props.required}
        aria-invalid={props.error ? "true" : undefined}
        aria-describedby={describedBy(props)}
        onInput={onInput && ((event) => onInput(event.currentTarget.value))}
      >
        {props.options.map((option) => (
          <option value={option.value} selected={option.value === props.value}>
            {option.label}
          </option>
        ))}
      </select>
    </Field>
  );
}

/** Props of {@link ErrorSummary}. */
export interface ErrorSummaryProps {
  /** Messages by field name; each message names its field ("Kind is required."). */
  errors: FieldErrors;
  /** Field ids by name; default `field-<name>` as {@link fieldIds} makes them. */
  ids?: Record<string, string>;
  title?: string;
  /** The summary's element id. */
  id?: string;
}

/** The list of a form's errors with links to the fields, or nothing when there are none. */
export function ErrorSummary(props: ErrorSummaryProps): JSX.Element | null {
  const entries = Object.entries(props.errors).filter((entry): entry is [string, string] =>
    Boolean(entry[1])
  );
  if (entries.length === 0) return null;
  return (
    <div class="error-summary" role="alert" id={props.id} tabIndex={-1}>
      <h2>{props.title ?? "There is a problem"}</h2>
      <ul>
        {entries.map(([name, message]) => (
          <li key={name}>
            <a href={`#${props.ids?.[name] ?? `field-${name}`}`}>{message}</a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A hidden input (CSRF token, redirect target). */
export function Hidden(props: { name: string; value: string }): JSX.Element {
  return <input type="hidden" name={props.name} value={props.value} />;
}
