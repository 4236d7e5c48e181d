/**
 * The agent console (server-rendered pages with islands) as a Hono sub-app:
 * `createAgentApp({ ui: createAgentUi({ store, … }) })`.
 * @module
 */
export { type AgentUiOptions, createAgentErrorPage, createAgentUi } from "./routes.tsx";
export { safeNext } from "@outpost/web/form_guard";
export type { EnrollmentView } from "./pages/settings.tsx";
