/**
 * A device's commands and their status as an island: rendered on the server; in the browser
 * it polls `GET /api/v1/devices/:id/commands` with the session, so a queued command is seen
 * being delivered and answered without a reload.
 * @module
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { CommandView } from "../../store/store.ts";
import { truncate } from "@outpost/web/components/format";
import { DataTable } from "@outpost/web/components/table";
import { Timestamp } from "@outpost/web/components/timestamp";
import { getJson, LiveIndicator, usePoll } from "@outpost/web/components/live";

/** A command as `GET /api/v1/devices/:id/commands` lists it. */
export type CommandItem = Omit<CommandView, "deviceId">;

/** Props of {@link CommandList} (plain data: they travel in the page). */
export interface CommandListProps {
  commands: CommandItem[];
  /** `GET` URL of the device's commands (with its `limit`). */
  apiUrl: string;
  csrfToken: string;
  pollMs: number;
  generatedAt: string;
  /** Id of the command just queued (highlighted). */
  highlight?: string;
}

const STATUS_HELP: Record<CommandItem["status"], string> = {
  scheduled: "waiting for its job's rate to release it",
  queued: "waiting for the device to come online",
  delivered: "sent; waiting for the device's answer",
  succeeded: "the device ran it",
  failed: "the device could not run it",
  cancelled: "its job was cancelled before it was delivered",
};

/** The status as a word in a badge; its title says what the status means. */
export function CommandStatus(props: { status: CommandItem["status"] }): JSX.Element {
  return (
    <span class={`badge command-${props.status}`} title={STATUS_HELP[props.status]}>
      {props.status}
    </span>
  );
}

/** The commands table; live when hydrated. */
export function CommandList(props: CommandListProps): JSX.Element {
  const [data, setData] = useState({ commands: props.commands, updatedAt: props.generatedAt });
  const live = usePoll(props.pollMs, async () => {
    const { items } = await getJson<{ items: CommandItem[] }>(props.apiUrl, {
      "x-csrf-token": props.csrfToken,
    });
    return { commands: items, updatedAt: new Date().toISOString() };
  }, setData);
  return (
    <div class="command-list">
      <LiveIndicator live={live} pollMs={props.pollMs} updatedAt={data.updatedAt} />
      <DataTable
        id="commands-table"
        caption="Commands, newest first"
        hideCaption
        rows={data.commands}
        rowKey={(command) => command.id}
        empty="No commands sent to this device yet."
        columns={[
          {
            label: "Queued",
            cell: (command) => (
              <Timestamp value={command.createdAt} highlight={command.id === props.highlight} />
            ),
          },
          {
            label: "Command",
            cell: (command) => (
              <>
                <code>{command.name}</code>
                {command.args && <code class="event-data">{JSON.stringify(command.args)}</code>}
              </>
            ),
          },
          {
            label: "Status",
            cell: (command) => (
              <span data-command-status={command.id}>
                <CommandStatus status={command.status} />
              </span>
            ),
          },
          {
            label: "Result",
            cell: (command) =>
              command.error !== undefined
                ? <span class="command-error">{command.error}</span>
                : command.result !== undefined
                ? <code class="event-data">{truncate(JSON.stringify(command.result), 300)}</code>
                : "—",
          },
          {
            label: "Updated",
            cell: (command) => <Timestamp value={command.updatedAt} />,
          },
        ]}
      />
    </div>
  );
}
