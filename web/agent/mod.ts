/**
 * The agent console (server-rendered pages with islands) as a Hono sub-app:
 * `createAgentApp({ ui: createAgentUi({ store, … }) })`.
 * @module
 */
export { type AgentUiOptions, createAgentUi, safeNext } from "./routes.tsx";
export type { EnrollmentView } from "./pages/settings.tsx";
