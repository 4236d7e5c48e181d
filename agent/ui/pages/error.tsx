/**
 * Error pages for browsers: a page the operator can read and leave (404, 500 and the other
 * statuses a page or form can end in), instead of the API's JSON envelope. API clients and
 * everything under `/api/` keep the envelope (`createAgentApp({ errorPage })` decides).
 * @module
 */
import type { JSX } from "preact";
import { PageHeader } from "@outpost/web/components/layout";
import { AgentPage, type PageContext } from "../page.tsx";

/** Props of {@link ErrorPage}. */
export interface ErrorPageProps {
  context: PageContext;
  status: number;
  /** The error's own message (never internals: a 500 says only that it was logged). */
  message: string;
}

const TITLES: Record<number, string> = {
  400: "That request could not be read",
  403: "Not allowed",
  404: "Page not found",
  413: "That was too large",
  415: "That form could not be read",
  503: "Not ready yet",
  507: "The device's disk is full",
};

/** The page for `status`. */
export function ErrorPage(props: ErrorPageProps): JSX.Element {
  const title = TITLES[props.status] ?? (props.status >= 500 ? "Something went wrong" : "Error");
  const lead = props.status === 404
    ? (
      <>
        There is no page at <code>{props.context.path}</code> on this agent.
      </>
    )
    : props.status >= 500 && props.status !== 503 && props.status !== 507
    ? "The agent could not show this page. The error is in the agent's log; try again in a moment."
    : props.message;
  return (
    <AgentPage context={props.context} title={title}>
      <div class="error-page" data-status={props.status}>
        <PageHeader title={title} lead={lead} />
        <p>
          Status {props.status}. <a href="/">Go to the dashboard</a>, or pick a page above.
        </p>
      </div>
    </AgentPage>
  );
}
