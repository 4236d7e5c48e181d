/**
 * A label selector field with a preview of how many devices it matches. Rendered on the server
 * with the count of the value posted (the no-JS "Preview" button); in the browser it asks
 * `GET /api/v1/devices?limit=1&selector=…` as the operator types (debounced) and shows the count,
 * or the API's message for a malformed selector.
 * @module
 */
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { TextInput } from "@outpost/web/components/form";

/** Props of {@link SelectorPreview} (plain data: they travel in the page). */
export interface SelectorPreviewProps {
  value: string;
  label: string;
  hint: string;
  /** The server's message for the posted value. */
  error?: string;
  /** How many devices the posted value matches, when it was previewed. */
  counts?: { total: number; online: number };
  csrfToken: string;
  /** Wait after the last keystroke before asking (ms). */
  debounceMs?: number;
}

interface Preview {
  counts?: { total: number; online: number };
  error?: string;
  busy?: boolean;
}

function n(value: number): string {
  return value.toLocaleString("en-US");
}

/** The selector input and its live match count. */
export function SelectorPreview(props: SelectorPreviewProps): JSX.Element {
  const [value, setValue] = useState(props.value);
  const [preview, setPreview] = useState<Preview>({ counts: props.counts, error: props.error });
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    let stale = false;
    setPreview((p) => ({ ...p, busy: true }));
    const timer = setTimeout(async () => {
      try {
        const response = await fetch(
          `/api/v1/devices?limit=1&selector=${encodeURIComponent(value)}`,
          { headers: { accept: "application/json", "x-csrf-token": props.csrfToken } },
        );
        const body = await response.json();
        if (stale) return;
        if (response.ok) {
          setPreview({ counts: { total: body.counts.total, online: body.counts.online } });
        } else {
          const detail = body?.error?.details?.[0]?.message ?? body?.error?.message;
          setPreview({
            error: `${props.label}: ${detail ?? `the API answered ${response.status}`}.`,
          });
        }
      } catch (error) {
        if (!stale) setPreview({ error: `Cannot preview now: ${(error as Error).message}` });
      }
    }, props.debounceMs ?? 400);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [value]);
  return (
    <div class="selector-preview">
      <TextInput
        name="selector"
        label={props.label}
        value={value}
        hint={props.hint}
        error={preview.error}
        onInput={setValue}
      />
      <p class="preview" data-preview="" aria-live="polite">
        {preview.busy
          ? "Counting…"
          : preview.counts
          ? `${n(preview.counts.total)} ${
            preview.counts.total === 1 ? "device matches" : "devices match"
          } now (${n(preview.counts.online)} online).`
          : ""}
      </p>
    </div>
  );
}
