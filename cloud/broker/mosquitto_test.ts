import assert from "node:assert/strict";
import { ProvisioningError } from "./credentials.ts";
import {
  type DynsecCommand,
  type DynsecControl,
  type DynsecResponse,
  DynsecUnavailableError,
} from "./dynsec.ts";
import { collectingLogger } from "../testing/fixtures.ts";
import {
  connectMosquitto,
  DEVICE_TEXTNAME,
  deviceAcls,
  deviceRoleName,
  dynsecProvisioner,
  ingestAcls,
  ingestPassword,
} from "./mosquitto.ts";

interface FakeClient {
  password: string;
  clientid?: string;
  textname?: string;
  disabled?: boolean;
  roles: { rolename: string }[];
}

/** An in-memory stand-in for the dynsec plugin, answering as Mosquitto 2.0.11 does. */
class FakeDynsec implements DynsecControl {
  clients = new Map<string, FakeClient>([
    ["outpost-admin", { password: "admin", textname: "Dynsec admin user", roles: [] }],
  ]);
  roles = new Map<string, unknown[]>();
  log: DynsecCommand[] = [];
  down = false;

  run(commands: DynsecCommand[]): Promise<DynsecResponse[]> {
    if (this.down) return Promise.reject(new DynsecUnavailableError("broker down"));
    return Promise.resolve(commands.map((command) => {
      this.log.push(command);
      return { command: command.command, ...this.#apply(command) };
    }));
  }

  #apply(c: DynsecCommand): Partial<DynsecResponse> {
    const username = c.username as string;
    switch (c.command) {
      case "createRole":
        if (this.roles.has(c.rolename as string)) return { error: "Role already exists" };
        this.roles.set(c.rolename as string, c.acls as unknown[]);
        return {};
      case "modifyRole":
        this.roles.set(c.rolename as string, c.acls as unknown[]);
        return {};
      case "createClient":
      case "modifyClient": {
        const exists = this.clients.has(username);
        if (c.command === "createClient" && exists) return { error: "Client already exists" };
        if (c.command === "modifyClient" && !exists) return { error: "Client not found" };
        this.clients.set(username, {
          ...this.clients.get(username),
          password: c.password as string,
          clientid: c.clientid as string,
          textname: c.textname as string,
          roles: c.roles as { rolename: string }[],
        });
        return {};
      }
      case "getClient": {
        const client = this.clients.get(username);
        if (!client) return { error: "Client not found" };
        const { password: _, ...visible } = client;
        return { data: { client: { username, ...visible } } };
      }
      default:
        return { error: "Unknown command" };
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("enrollment creates a role with exactly the device's topics and a client bound to its id", async () => {
  const fake = new FakeDynsec();
  const credentials = await dynsecProvisioner(fake).provision("pi-1");
  assert.equal(credentials.username, "pi-1");
  assert.equal(credentials.passwordHash, null, "Mosquitto checks the password, not the cloud");
  assert.ok(credentials.password.length >= 40);
  assert.deepEqual(fake.roles.get("outpost-device-pi-1"), deviceAcls("pi-1"));
  assert.deepEqual(fake.clients.get("pi-1"), {
    password: credentials.password,
    clientid: "pi-1",
    textname: DEVICE_TEXTNAME,
    roles: [{ rolename: deviceRoleName("pi-1") }],
  });
});

Deno.test("re-enrollment rotates the password with modifyClient and re-asserts the role's ACL", async () => {
  const fake = new FakeDynsec();
  const provisioner = dynsecProvisioner(fake);
  const first = await provisioner.provision("pi-1");
  fake.roles.set("outpost-device-pi-1", [{ acltype: "subscribePattern", topic: "#" }]);
  const second = await provisioner.provision("pi-1");
  assert.notEqual(second.password, first.password);
  assert.equal(fake.clients.get("pi-1")?.password, second.password);
  assert.deepEqual(fake.roles.get("outpost-device-pi-1"), deviceAcls("pi-1"));
  assert.ok(fake.log.some((c) => c.command === "modifyClient"));
});

Deno.test("a device id that names a non-device broker user is refused as device_id_taken and the user is untouched", async () => {
  const fake = new FakeDynsec();
  await assert.rejects(
    dynsecProvisioner(fake).provision("outpost-admin"),
    (error: ProvisioningError) =>
      error instanceof ProvisioningError && error.code === "device_id_taken",
  );
  assert.equal(fake.clients.get("outpost-admin")?.password, "admin");
  assert.ok(!fake.log.some((c) => c.command === "modifyClient"));
});

Deno.test("a device an operator disabled in the broker cannot enroll again", async () => {
  const fake = new FakeDynsec();
  const provisioner = dynsecProvisioner(fake);
  const first = await provisioner.provision("pi-1");
  fake.clients.get("pi-1")!.disabled = true;
  await assert.rejects(
    provisioner.provision("pi-1"),
    (error: ProvisioningError) =>
      error instanceof ProvisioningError && error.code === "device_disabled",
  );
  assert.equal(fake.clients.get("pi-1")?.password, first.password, "nothing was changed");
});

Deno.test("an unreachable broker makes provisioning fail as broker_unavailable", async () => {
  const fake = new FakeDynsec();
  fake.down = true;
  await assert.rejects(
    dynsecProvisioner(fake).provision("pi-1"),
    (error: ProvisioningError) =>
      error instanceof ProvisioningError && error.code === "broker_unavailable" &&
      /broker down/.test(error.message),
  );
});

Deno.test("the device ACL allows only its own subtree; the ingest ACL covers the $share form", () => {
  const acl = deviceAcls("pi-1");
  const allowed = acl.filter((a) => a.allow).map((a) => `${a.acltype} ${a.topic}`);
  assert.deepEqual(allowed, [
    "publishClientSend outpost/v1/pi-1/up/#",
    "subscribePattern outpost/v1/pi-1/down/#",
    "publishClientReceive outpost/v1/pi-1/down/#",
  ]);
  const denied = acl.filter((a) => !a.allow);
  assert.deepEqual(denied.map((a) => `${a.acltype} ${a.topic}`), ["publishClientReceive #"]);
  assert.ok(denied[0].priority! < acl[0].priority!, "the catch-all deny is checked last");
  const ingest = ingestAcls().map((a) => `${a.acltype} ${a.topic}`);
  assert.ok(ingest.includes("subscribePattern $share/outpost-ingest/outpost/v1/+/up/#"));
  assert.ok(ingest.includes("publishClientSend outpost/v1/+/down/#"));
});

Deno.test("the ingest password is the same for every replica and changes with the admin password", () => {
  assert.equal(ingestPassword("admin-secret"), ingestPassword("admin-secret"));
  assert.notEqual(ingestPassword("admin-secret"), ingestPassword("admin-secret-2"));
  assert.ok(!ingestPassword("admin-secret").includes("admin-secret"));
});

Deno.test("with Mosquitto unreachable the link neither blocks readiness nor stop, and refuses to publish", async () => {
  const { logger, lines } = collectingLogger();
  const setup = connectMosquitto({
    url: "mqtt://127.0.0.1:1",
    adminUsername: "outpost-admin",
    adminPassword: "admin-secret",
    logger,
    retryMs: 50,
  });
  await setup.link.subscribeUplink(() => Promise.resolve());
  await assert.rejects(
    setup.link.publish("outpost/v1/pi-1/down/ack", "{}", { qos: 1, retain: true }),
    /is not connected/,
  );
  const started = Date.now();
  await setup.link.close();
  assert.ok(Date.now() - started < 2_000, "close does not wait for the broker");
  assert.ok(!JSON.stringify(lines).includes("admin-secret"), "the admin password is never logged");
});
