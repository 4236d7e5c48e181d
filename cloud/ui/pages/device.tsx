/**
 * `/devices/:id`: one device — its facts, a chart per sensor of its recent readings (the most
 * recently active, saying how many of how many), its desired state editor, the command buttons
 * with the `CommandList` island, and its recent events — in sections with jump links. Forms
 * post to `/devices/:id/desired#desired` and `/devices/:id/commands#commands`: a rejected one
 * re-renders (422) scrolled to the form and its error, an accepted one redirects back.
 * @module
 */
import type { ComponentChildren, JSX } from "preact";
import type { DeviceDetail, EnrollmentRequestView } from "../../store/store.ts";
import type { FleetReadModel } from "../../fleet/operations.ts";
import { Labels, PresenceBadge } from "../components/device_table.tsx";
import { EventsTable, type EventView } from "@outpost/web/components/events";
import { ErrorSummary, Hidden, Select, TextArea } from "@outpost/web/components/form";
import { formatDateTime } from "@outpost/web/components/format";
import { JumpLinks, PageHeader, Section } from "@outpost/web/components/layout";
import { SensorCharts, type SensorSeriesView } from "@outpost/web/components/sensor_charts";
import { island } from "@outpost/web/island_runtime";
import { type CommandItem, CommandList, type CommandListProps } from "../islands/command_list.tsx";
import { CSRF_FIELD } from "@outpost/web/session";
import { COMMAND_CHOICES, DESIRED_RULE, LOG_LEVEL_CHOICES } from "../device_forms.ts";
import { LifecycleSection, StatusBadge } from "../components/lifecycle.tsx";
import { type FleetContext, FleetPage } from "../page.tsx";

/** Points per sensor chart. */
export const DEVICE_READINGS_PER_SENSOR = 120;
/** Sensors charted: the most recently active. */
export const DEVICE_MAX_SENSORS = 12;
/** Other sensors named under the charts (the rest are counted). */
export const DEVICE_OTHER_SENSORS = 100;
/** Readings dated up to this far ahead still count as recent (a device clock a little fast). */
const FUTURE_SLACK_MS = 3_600_000;
/** Events listed. */
export const DEVICE_EVENTS = 20;
/** Commands listed (and polled by the island). */
export const DEVICE_COMMANDS = 20;

/** `/devices/<id>` with the id encoded. */
export function devicePath(id: string): string {
  return `/devices/${encodeURIComponent(id)}`;
}

/** What the device page shows. */
export interface DevicePageData {
  device: DeviceDetail;
  sensors: SensorSeriesView[];
  /** Every sensor of the device (more than `sensors.length` when capped). */
  sensorCount: number;
  /** Sensors not charted, most recently active first (at most {@link DEVICE_OTHER_SENSORS}). */
  otherSensors: string[];
  /** When the page was read (ms): a latest reading not of today names its date. */
  now: number;
  events: EventView[];
  commands: CommandListProps;
  /** Enrollment requests for this id awaiting a decision. */
  requests: EnrollmentRequestView[];
}

/** The editor's and the command forms' state after a post. */
export interface DeviceFormsState {
  /** The editor's text (typed, after a failed save). */
  desiredText?: string;
  desiredErrors?: Record<string, string>;
  /** Version just saved (after the redirect). */
  savedVersion?: number;
  level?: string;
  commandErrors?: Record<string, string>;
  /** A lifecycle action that failed, and what the last one did. */
  lifecycleError?: string;
  lifecycleNotice?: string;
}

/** Dependencies of {@link loadDevicePage}. */
export interface DevicePageSources {
  store: Pick<
    FleetReadModel,
    | "getDevice"
    | "sensorActivity"
    | "queryReadings"
    | "listEvents"
    | "listCommands"
    | "listEnrollmentRequests"
  >;
  csrfToken: string;
  pollMs: number;
  now: () => number;
  /** The command just queued, to highlight. */
  highlight?: string;
}

/** Reads what the page shows; undefined when the device is not enrolled. */
export async function loadDevicePage(
  id: string,
  sources: DevicePageSources,
): Promise<DevicePageData | undefined> {
  const { store } = sources;
  const device = await store.getDevice(id);
  if (!device) return undefined;
  const now = sources.now();
  const [activity, events, commands, requests] = await Promise.all([
    store.sensorActivity(id, now + FUTURE_SLACK_MS),
    store.listEvents({ device: id, limit: DEVICE_EVENTS }),
    store.listCommands(id, DEVICE_COMMANDS),
    store.listEnrollmentRequests({ status: "pending", deviceId: id, limit: 20 }),
  ]);
  const charted = activity.slice(0, DEVICE_MAX_SENSORS);
  const sensors = await Promise.all(charted.map(async ({ sensor }) => {
    const rows = await store.queryReadings({
      device: id,
      sensor,
      limit: DEVICE_READINGS_PER_SENSOR,
    });
    return {
      sensor,
      unit: rows[0]?.unit ?? "",
      points: rows.map((row) => ({ t: Date.parse(row.ts), v: row.value })).reverse(),
    };
  }));
  return {
    device,
    sensors,
    sensorCount: activity.length,
    otherSensors: activity.slice(DEVICE_MAX_SENSORS, DEVICE_MAX_SENSORS + DEVICE_OTHER_SENSORS)
      .map((entry) => entry.sensor),
    now,
    events,
    requests,
    commands: {
      commands: commands.map(({ deviceId: _deviceId, ...command }): CommandItem => command),
      apiUrl: `/api/v1${devicePath(id)}/commands?limit=${DEVICE_COMMANDS}`,
      csrfToken: sources.csrfToken,
      pollMs: sources.pollMs,
      generatedAt: new Date(sources.now()).toISOString(),
      ...(sources.highlight ? { highlight: sources.highlight } : {}),
    },
  };
}

/** Props of {@link DevicePage}. */
export interface DevicePageProps {
  context: FleetContext;
  data: DevicePageData;
  forms?: DeviceFormsState;
}

/** The device page. */
export function DevicePage(props: DevicePageProps): JSX.Element {
  const { device } = props.data;
  const forms = props.forms ?? {};
  const csrf = props.context.session?.csrfToken ?? "";
  return (
    <FleetPage context={props.context} title={device.id}>
      <p class="breadcrumb">
        <a href="/">All devices</a>
      </p>
      <PageHeader
        title={device.id}
        lead={
          <>
            <PresenceBadge online={device.online} /> {device.status !== "active" && (
              <>
                <StatusBadge status={device.status} />
                {" "}
              </>
            )}
            {device.lastSeen ? `Last seen ${formatDateTime(device.lastSeen)}.` : "Never seen."}
          </>
        }
      />
      <JumpLinks
        links={[
          { id: "device", label: "Device" },
          { id: "charts", label: "Readings" },
          { id: "desired", label: "Desired state" },
          { id: "commands", label: "Commands" },
          { id: "recent-events", label: "Events" },
          { id: "lifecycle", label: "Lifecycle" },
        ]}
      />
      <DeviceFacts device={device} />
      <Section id="charts" title="Recent readings">
        {props.data.sensors.length === 0
          ? <p class="empty">No readings from this device yet.</p>
          : <DeviceCharts data={props.data} />}
      </Section>
      <DesiredEditor device={device} csrf={csrf} forms={forms} />
      <Section id="commands" title="Commands">
        <CommandForms deviceId={device.id} csrf={csrf} forms={forms} />
        {island("CommandList", CommandList, props.data.commands)}
      </Section>
      <Section id="recent-events" title="Recent events">
        <EventsTable id="device-events-table" events={props.data.events} hideCaption />
      </Section>
      <LifecycleSection
        device={device}
        requests={props.data.requests}
        csrf={csrf}
        error={forms.lifecycleError}
        notice={forms.lifecycleNotice}
      />
    </FleetPage>
  );
}

/** The charts and how many of the device's sensors they are. */
function DeviceCharts({ data }: { data: DevicePageData }): JSX.Element {
  const shown = data.sensors.length;
  const hidden = data.sensorCount - shown;
  return (
    <>
      <p class="note" data-sensor-count>
        {hidden > 0
          ? `Showing ${shown} of ${data.sensorCount} sensors: the most recently active.`
          : `Showing all ${data.sensorCount === 1 ? "1 sensor" : `${data.sensorCount} sensors`}.`}
      </p>
      <SensorCharts sensors={data.sensors} idPrefix="device-chart" now={data.now} />
      {hidden > 0 && (
        <details class="tech-details">
          <summary>The {hidden} other sensors</summary>
          <p>
            {data.otherSensors.map((sensor, i) => (
              <>
                {i > 0 && ", "}
                <code>{sensor}</code>
              </>
            ))}
            {hidden > data.otherSensors.length &&
              ` and ${hidden - data.otherSensors.length} more`}. Their readings are in{" "}
            <code>GET /api/v1/readings?device={data.device.id}&amp;sensor=…</code>.
          </p>
        </details>
      )}
    </>
  );
}

function DeviceFacts({ device }: { device: DeviceDetail }): JSX.Element {
  return (
    <Section id="device" title="Device">
      <dl class="facts">
        <dt>Version</dt>
        <dd data-fact="version">{device.version ?? "—"}</dd>
        <dt>Architecture</dt>
        <dd data-fact="arch">{device.arch ?? "—"}</dd>
        <dt>Labels</dt>
        <dd data-fact="labels">
          <Labels labels={device.labels} />
        </dd>
        <dt>Enrolled</dt>
        <dd data-fact="enrolledAt">{formatDateTime(device.enrolledAt)}</dd>
        <dt>Sync</dt>
        <dd data-fact="lag">
          {device.lag === 0
            ? "Up to date: everything the device reported is stored."
            : `${count(device.lag, "record")} reported by the device but not stored yet.`}
        </dd>
        <dt>Stored here</dt>
        <dd data-fact="stats">
          {count(device.stats.readings, "reading")}, {count(device.stats.events, "event")}
        </dd>
      </dl>
      <details class="tech-details">
        <summary>Sync details</summary>
        <dl class="facts">
          <dt>Stored up to seq</dt>
          <dd data-fact="ackedSeq">{device.ackedSeq}</dd>
          <dt>Last seq reported</dt>
          <dd data-fact="lastSeq">{device.lastSeq}</dd>
        </dl>
      </details>
    </Section>
  );
}

/** `1 event`, `2,000 events`. */
function count(n: number, noun: string): string {
  return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}

function DesiredEditor(
  props: { device: DeviceDetail; csrf: string; forms: DeviceFormsState },
): JSX.Element {
  const { device, forms } = props;
  const errors = forms.desiredErrors ?? {};
  const applied = device.appliedVersion >= device.desiredVersion;
  return (
    <Section id="desired" title="Desired state">
      {forms.savedVersion !== undefined && (
        <p class="notice" role="status">
          Saved desired state version{" "}
          {forms.savedVersion}; it is sent to the device (retained, so an offline device gets it
          when it reconnects).
        </p>
      )}
      <dl class="facts">
        <dt>Desired version</dt>
        <dd data-fact="desiredVersion">{device.desiredVersion}</dd>
        <dt>Applied version</dt>
        <dd data-fact="appliedVersion">
          {device.desiredVersion === 0
            ? device.appliedVersion
            : `${device.appliedVersion} ${
              applied ? "(up to date)" : "(the device has not applied the latest version yet)"
            }`}
        </dd>
      </dl>
      {device.desiredReports.length > 0 && (
        <ul class="desired-reports" aria-label="The device's answers, newest first">
          {device.desiredReports.map((report) => (
            <li key={report.version} data-desired-report={report.version}>
              Version {report.version}: {report.outcome === "applied"
                ? <span class="badge sync-online">applied</span>
                : <span class="badge severity-critical">failed</span>}
              {report.reason && <span class="command-error">{report.reason}</span>}
            </li>
          ))}
        </ul>
      )}
      <ErrorSummary errors={errors} title="The desired state was not saved" />
      <form
        method="post"
        action={`${devicePath(device.id)}/desired#desired`}
        class="desired-form"
      >
        <Hidden name={CSRF_FIELD} value={props.csrf} />
        <TextArea
          name="desired"
          label={DESIRED_RULE.label}
          required
          rows={10}
          hint="A JSON object. Saving replaces the whole desired state and bumps its version; while a rollout runs, the keys set here win and the rollout keeps the others."
          value={forms.desiredText ?? JSON.stringify(device.desired, null, 2)}
          error={errors.desired}
        />
        <button type="submit" class="button">Save desired state</button>
      </form>
      {Object.keys(device.reported).length > 0 && (
        <details class="reported">
          <summary>Reported by the device</summary>
          <pre><code>{JSON.stringify(device.reported, null, 2)}</code></pre>
        </details>
      )}
    </Section>
  );
}

function CommandForms(
  props: { deviceId: string; csrf: string; forms: DeviceFormsState },
): JSX.Element {
  const errors = props.forms.commandErrors ?? {};
  const action = `${devicePath(props.deviceId)}/commands#commands`;
  return (
    <div class="commands">
      <ErrorSummary
        errors={errors}
        ids={{ command: "commands-heading", level: "field-level" }}
        title="The command was not sent"
      />
      <p class="hint">
        {Object.values(COMMAND_CHOICES).map((choice) => `${choice.label}: ${choice.help}`)
          .join(" ")} A command to an offline device waits until it reconnects.
      </p>
      <div class="command-forms">
        <CommandForm action={action} csrf={props.csrf} name="ping">
          <button type="submit" class="button">Ping</button>
        </CommandForm>
        <CommandForm action={action} csrf={props.csrf} name="resync">
          <button type="submit" class="button">Resync</button>
        </CommandForm>
        <CommandForm action={action} csrf={props.csrf} name="set-log-level">
          <Select
            name="level"
            label="Log level"
            required
            value={props.forms.level || "info"}
            error={errors.level}
            options={LOG_LEVEL_CHOICES.map((level) => ({ value: level, label: level }))}
          />
          <button type="submit" class="button">Set log level</button>
        </CommandForm>
      </div>
    </div>
  );
}

/** One command button: a form posting the command's name (and its other fields). */
function CommandForm(
  props: { action: string; csrf: string; name: string; children: ComponentChildren },
): JSX.Element {
  return (
    <form method="post" action={props.action} class="command-form">
      <Hidden name={CSRF_FIELD} value={props.csrf} />
      <Hidden name="name" value={props.name} />
      {props.children}
    </form>
  );
}
