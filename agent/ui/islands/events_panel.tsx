/**
 * The events page body as an island: the new-event form and the events list. Without
 * JavaScript the form is a plain `POST /events`; hydrated, it checks fields inline as you go,
 * posts JSON to `/api/v1/events` and puts the new event at the top of the list without a
 * reload.
 * @module
 */
import type { JSX, TargetedSubmitEvent } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { EventsTable, type EventView } from "@outpost/web/components/events";
import { checkField, checkFields, type FieldRules } from "@outpost/web/components/field_rules";
import { ErrorSummary, Hidden, Select, TextArea, TextInput } from "@outpost/web/components/form";
import { Section } from "@outpost/web/components/layout";

/** The form's fields as typed. */
export interface EventFormValues {
  kind: string;
  severity: string;
  message: string;
  data: string;
}

/** Props of {@link EventsPanel} (plain data: they travel in the page). */
export interface EventsPanelProps {
  events: EventView[];
  /** Where the no-JS form posts, e.g. `/events`. */
  action: string;
  /** Where the island posts JSON, e.g. `/api/v1/events`. */
  apiUrl: string;
  /** The session's CSRF token when the server requires a login for changes. */
  csrfToken?: string;
  /** False when a login is required and missing: the form is replaced by a login link. */
  canPost: boolean;
  loginHref: string;
  values: EventFormValues;
  errors: Record<string, string>;
  rules: FieldRules;
  /** Id of the event just added (highlighted after the no-JS redirect). */
  added?: string;
}

const FIELDS = ["kind", "severity", "message", "data"] as const;

/** The form and the list. */
export function EventsPanel(props: EventsPanelProps): JSX.Element {
  const [events, setEvents] = useState(props.events);
  const [values, setValues] = useState(props.values);
  const [errors, setErrors] = useState<Record<string, string>>(props.errors);
  const [formError, setFormError] = useState<string | undefined>(undefined);
  const [status, setStatus] = useState("");
  const [busy, setBusy] = useState(false);
  const [hydrated, setHydrated] = useState(false);
  const [added, setAdded] = useState(props.added);
  const summary = useRef<HTMLDivElement>(null);
  useEffect(() => setHydrated(true), []);

  const labels = Object.fromEntries(FIELDS.map((name) => [name, props.rules[name]?.label ?? name]));
  const update = (name: keyof EventFormValues) => (value: string) => {
    setValues((current) => ({ ...current, [name]: value }));
    // Once a field shows an error, re-check it as the user types so the message goes away.
    if (errors[name]) {
      const rule = props.rules[name];
      const message = rule ? checkField(rule, value) : undefined;
      setErrors((current) => {
        const next = { ...current };
        if (message) next[name] = message;
        else delete next[name];
        return next;
      });
    }
  };

  const onSubmit = async (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (busy) return;
    setFormError(undefined);
    setStatus("");
    const found = checkFields(props.rules, { ...values });
    setErrors(found);
    if (Object.keys(found).length) {
      // Move focus to the summary so keyboard and screen reader users hear what is wrong.
      queueMicrotask(() => summary.current?.focus());
      return;
    }
    setBusy(true);
    try {
      const body = {
        kind: values.kind.trim(),
        severity: values.severity,
        message: values.message,
        ...(values.data.trim() ? { data: JSON.parse(values.data) } : {}),
      };
      const response = await fetch(props.apiUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...(props.csrfToken ? { "x-csrf-token": props.csrfToken } : {}),
        },
        body: JSON.stringify(body),
      });
      const result = await response.json().catch(() => ({}));
      if (response.status === 201) {
        const stored = await fetch(`${props.apiUrl}/${encodeURIComponent(result.id)}`);
        const created: EventView = stored.ok ? await stored.json() : {
          id: result.id,
          seq: result.seq,
          ...body,
          ts: new Date().toISOString(),
        };
        setEvents((current) => [created, ...current.filter((e) => e.id !== created.id)]);
        setAdded(created.id);
        setValues({ ...props.values, kind: "", message: "", data: "", severity: values.severity });
        setStatus(`Event added: ${created.kind} (${created.severity}).`);
      } else if (response.status === 422 && Array.isArray(result.error?.details)) {
        const serverErrors: Record<string, string> = {};
        for (const detail of result.error.details as { field: string; message: string }[]) {
          const name = detail.field.split(".")[0];
          serverErrors[name in labels ? name : "form"] ??= `${
            labels[name] ?? name
          } ${detail.message}`;
        }
        setErrors(serverErrors);
        queueMicrotask(() => summary.current?.focus());
      } else if (response.status === 401) {
        setFormError("Your session has ended. Log in again to add events.");
      } else {
        setFormError(result.error?.message ?? `The agent answered ${response.status}.`);
      }
    } catch (error) {
      setFormError(`Could not reach the agent: ${(error as Error).message}`);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="events-panel">
      <Section id="new-event" title="New event">
        {props.canPost
          ? (
            <form
              method="post"
              action={props.action}
              class="event-form"
              noValidate={hydrated}
              onSubmit={onSubmit}
            >
              <div ref={summary} tabIndex={-1} class="summary-anchor">
                <ErrorSummary errors={errors} />
              </div>
              {formError && <p class="error form-error" role="alert">{formError}</p>}
              {props.csrfToken && <Hidden name="_csrf" value={props.csrfToken} />}
              <TextInput
                name="kind"
                label={labels.kind}
                hint={props.rules.kind?.hint}
                required={props.rules.kind?.required}
                maxLength={props.rules.kind?.maxLength}
                value={values.kind}
                error={errors.kind}
                onInput={update("kind")}
              />
              <Select
                name="severity"
                label={labels.severity}
                required={props.rules.severity?.required}
                value={values.severity}
                error={errors.severity}
                options={(props.rules.severity?.options ?? []).map((value) => ({
                  value,
                  label: value,
                }))}
                onInput={update("severity")}
              />
              <TextArea
                name="message"
                label={labels.message}
                required={props.rules.message?.required}
                maxLength={props.rules.message?.maxLength}
                value={values.message}
                error={errors.message}
                rows={3}
                onInput={update("message")}
              />
              <TextArea
                name="data"
                label={labels.data}
                hint={props.rules.data?.hint}
                value={values.data}
                error={errors.data}
                rows={2}
                onInput={update("data")}
              />
              <div class="form-actions">
                <button type="submit" class="button" disabled={busy}>
                  {busy ? "Adding…" : "Add event"}
                </button>
                <p class="form-status" role="status">{status}</p>
              </div>
            </form>
          )
          : (
            <p class="notice">
              Adding events needs the agent's API token. <a href={props.loginHref}>Log in</a>{" "}
              to add events; reading stays open.
            </p>
          )}
      </Section>
      <Section id="events" title="Events">
        <EventsTable id="events-table" events={events} highlight={added} hideCaption />
      </Section>
    </div>
  );
}
