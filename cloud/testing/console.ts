/**
 * A fleet console over a real store for route tests: the cloud app with the console mounted,
 * a login, same-origin form posts, and one step of the fleet driver.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MetricsRegistry } from "@outpost/platform/metrics";
import { loadAssets } from "@outpost/web/assets";
import { deviceTableProvisioner } from "../broker/credentials.ts";
import { Downlink } from "../broker/downlink.ts";
import { FleetDriver } from "../fleet/driver.ts";
import { FleetOperations } from "../fleet/operations.ts";
import { createCloudApp } from "../http/app.ts";
import type { CloudStore } from "../store/store.ts";
import { createFleetSessionAuth, createFleetUi, type FleetUiOptions } from "../ui/mod.ts";
import { collectingLogger, RecordingLink, withStore } from "./fixtures.ts";

/** The admin token of {@link withConsole}. */
export const CONSOLE_ADMIN = "console-admin-token-0123456789";

/** What a console test drives. */
export interface ConsoleHarness {
  store: CloudStore;
  link: RecordingLink;
  fleet: FleetOperations;
  /** One step of the fleet driver. */
  step: () => Promise<void>;
  request: (path: string, init?: RequestInit) => Promise<Response>;
  /** A same-origin form post (with the session cookie when given). */
  form: (path: string, fields: Record<string, string>, cookie?: string) => Promise<Response>;
  /** Logs in; returns the cookie and the session's CSRF token. */
  login: () => Promise<{ cookie: string; csrf: string }>;
}

/** Runs `fn` against a console on a fresh store; `uiOptions` override the console's (a clock). */
export async function withConsole(
  fn: (h: ConsoleHarness) => Promise<void>,
  uiOptions: Partial<FleetUiOptions> = {},
): Promise<void> {
  await withStore(async (store, _handle, dir) => {
    const link = new RecordingLink();
    const { logger } = collectingLogger();
    const downlink = new Downlink({ link, store, logger });
    const session = createFleetSessionAuth(CONSOLE_ADMIN);
    const fleet = new FleetOperations({
      store,
      downlink,
      provisioner: deviceTableProvisioner(),
      logger,
    });
    const driver = new FleetDriver({ rollouts: fleet.rollouts, jobs: fleet.jobs, logger });
    const ui = createFleetUi({
      reads: store,
      fleet,
      logger,
      session,
      assets: await loadAssets({ buildDir: join(dir, "no-build") }),
      ...uiOptions,
    });
    const app = createCloudApp({
      store,
      fleet,
      provisioner: deviceTableProvisioner(),
      logger,
      metrics: new MetricsRegistry(),
      version: "test",
      adminToken: CONSOLE_ADMIN,
      enrollToken: "console-enroll-token-0123456789",
      broker: { url: "mqtt://127.0.0.1:1883", protocolVersion: 4 },
      ui,
      sessionAuth: session.authorizesApiRequest,
    });
    const request = async (path: string, init?: RequestInit) =>
      await app.request(`http://cloud${path}`, init);
    const form = (path: string, fields: Record<string, string>, cookie?: string) =>
      request(path, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "http://cloud",
          ...(cookie ? { cookie } : {}),
        },
        body: new URLSearchParams(fields).toString(),
      });
    const login = async () => {
      const response = await form("/login", { token: CONSOLE_ADMIN, next: "/" });
      assert.equal(response.status, 303);
      const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0];
      const csrf = session.read(new Request("http://cloud/", { headers: { cookie } }))?.csrfToken;
      assert.ok(csrf, "the cookie is not a session");
      return { cookie, csrf };
    };
    await fn({ store, link, fleet, step: () => driver.step(), request, form, login });
  });
}
