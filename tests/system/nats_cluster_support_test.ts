import assert from "node:assert/strict";
import { startNatsCluster } from "../support/nats_cluster.ts";

Deno.test("a one-node NATS cluster starts healthy, restarts after SIGKILL, and names a taken port", async () => {
  const cluster = await startNatsCluster({ nodes: 1 });
  try {
    const node = cluster.nodes[0];
    const varz = await (await fetch(`http://127.0.0.1:${node.ports.monitor}/varz`)).json();
    assert.equal(varz.server_name, "n1");
    assert.equal(varz.mqtt.port, node.ports.mqtt);
    await cluster.kill(0);
    await assert.rejects(fetch(`http://127.0.0.1:${node.ports.monitor}/varz`));
    // Something else took the MQTT port while the node was down.
    const squatter = Deno.listen({ hostname: "127.0.0.1", port: node.ports.mqtt });
    await assert.rejects(
      cluster.restart(0),
      new RegExp(`NATS node n1: port ${node.ports.mqtt} \\(mqtt.listen\\) is in use`),
    );
    squatter.close();
    await cluster.restart(0);
    assert.ok((await fetch(`http://127.0.0.1:${node.ports.monitor}/healthz`)).ok);
  } finally {
    await cluster.stop();
  }
});
