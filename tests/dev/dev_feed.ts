/**
 * The demo feed of `deno task dev`: plausible readings every two seconds and an event now and
 * then, written through the agent's public API like a real sensor process would.
 * @module
 */

/** Starts writing to the agent at `agentUrl`; returns a function that stops it. */
export function startDemoFeed(agentUrl: string, intervalMs = 2000): () => void {
  let tick = 0;
  const timer = setInterval(async () => {
    tick++;
    const phase = (tick / 30) * Math.PI;
    const readings = [
      {
        sensor: "temperature",
        value: round(21 + 3 * Math.sin(phase) + Math.random() * 0.3),
        unit: "C",
      },
      { sensor: "humidity", value: round(45 + 10 * Math.cos(phase) + Math.random()), unit: "%" },
      { sensor: "battery", value: round(Math.max(0, 100 - tick * 0.01)), unit: "%" },
    ];
    try {
      await post(`${agentUrl}/api/v1/readings`, readings);
      if (tick % 30 === 0) {
        await post(`${agentUrl}/api/v1/events`, {
          kind: "demo.heartbeat",
          severity: "info",
          message: `Demo feed tick ${tick}`,
          data: { tick },
        });
      }
    } catch (error) {
      console.error(`[dev] demo feed write failed: ${(error as Error).message}`);
    }
  }, intervalMs);
  return () => clearInterval(timer);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

async function post(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
}
