/**
 * The agent console (server-rendered pages with islands) as a Hono sub-app:
 * `createAgentApp({ ui: createAgentUi({ store, … }) })`.
 * @module
 */
export { type AgentUiOptions, createAgentUi } from "./routes.tsx";
export { safeNext } from "../../web/form_guard.ts";
export type { EnrollmentView } from "./pages/settings.tsx";
