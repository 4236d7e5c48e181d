/**
 * `/settings`: who this device is, whether and where it is enrolled, and the configuration the
 * cloud wants it to have. Never shows a token or password.
 * @module
 */
import type { JSX } from "preact";
import type { DeviceConfig } from "../../store/store.ts";
import { formatDateTime } from "@outpost/web/components/format";
import { PageHeader, Section } from "@outpost/web/components/layout";
import { AgentPage, type PageContext } from "../page.tsx";

/** What the settings page says about enrollment (no secrets). */
export interface EnrollmentView {
  /** `OUTPOST_CLOUD_URL`, when set. */
  configuredCloudUrl?: string;
  enrolled: boolean;
  /** The cloud the stored credentials came from. */
  cloudUrl?: string;
  enrolledAt?: string;
  /** The MQTT broker URL, without any user or password. */
  brokerUrl?: string;
}

/** Props of {@link SettingsPage}. */
export interface SettingsPageProps {
  context: PageContext;
  version: string;
  enrollment: EnrollmentView;
  config: DeviceConfig;
  apiTokenSet: boolean;
  retentionDays?: number;
}

/** A URL without user info (defence in depth: a URL from config could carry a password). */
export function withoutCredentials(url: string | undefined): string | undefined {
  if (!url) return url;
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return "(not a valid URL)";
  }
}

/** The settings page. */
export function SettingsPage(props: SettingsPageProps): JSX.Element {
  const { enrollment, config } = props;
  const desired = JSON.stringify(config.desired, null, 2);
  return (
    <AgentPage context={props.context} title="Settings">
      <PageHeader
        title="Settings"
        lead="Read-only: the agent is configured by flags and environment variables, and by the cloud."
      />
      <Section id="device" title="Device">
        <dl class="facts">
          <dt>Device id</dt>
          <dd data-fact="deviceId">
            <code>{props.context.deviceId}</code>
          </dd>
          <dt>Agent version</dt>
          <dd data-fact="version">{props.version}</dd>
          {props.retentionDays !== undefined && (
            <>
              <dt>Local retention</dt>
              <dd>{props.retentionDays} days</dd>
            </>
          )}
          <dt>API changes</dt>
          <dd data-fact="auth">
            {props.apiTokenSet
              ? "Need the API token (OUTPOST_API_TOKEN is set); the UI asks for it once per session."
              : "Open: no OUTPOST_API_TOKEN is set, anyone who can reach this agent can write."}
          </dd>
        </dl>
      </Section>
      <Section id="enrollment" title="Cloud enrollment">
        <dl class="facts">
          <dt>Status</dt>
          <dd data-fact="enrolled">
            {enrollment.enrolled
              ? (
                enrollment.enrolledAt
                  ? `Enrolled since ${formatDateTime(enrollment.enrolledAt)}`
                  : "Enrolled"
              )
              : enrollment.configuredCloudUrl
              ? "Not enrolled yet: the agent keeps trying in the background."
              : "Not enrolled: no cloud configured (OUTPOST_CLOUD_URL is not set)."}
          </dd>
          <dt>Cloud URL</dt>
          <dd data-fact="cloudUrl">
            {withoutCredentials(enrollment.cloudUrl ?? enrollment.configuredCloudUrl) ?? "none"}
          </dd>
          {enrollment.brokerUrl && (
            <>
              <dt>MQTT broker</dt>
              <dd data-fact="brokerUrl">{withoutCredentials(enrollment.brokerUrl)}</dd>
            </>
          )}
        </dl>
      </Section>
      <Section id="desired" title="Desired configuration">
        <dl class="facts">
          <dt>Desired version</dt>
          <dd data-fact="desiredVersion">{config.desiredVersion}</dd>
          <dt>Applied version</dt>
          <dd data-fact="appliedVersion">{config.appliedVersion}</dd>
          {config.lastFailure && (
            <>
              <dt>Refused</dt>
              <dd data-fact="lastFailure">
                Version {config.lastFailure.version} was not applied:{" "}
                {config.lastFailure.reason}. The agent keeps the settings of version{" "}
                {config.appliedVersion}.
              </dd>
            </>
          )}
        </dl>
        {Object.keys(config.desired).length
          ? <pre aria-label="Desired configuration as JSON"><code>{desired}</code></pre>
          : <p class="empty">The cloud has not sent a desired configuration.</p>}
      </Section>
    </AgentPage>
  );
}
