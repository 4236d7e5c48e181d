/**
 * The HTTP baseline: a bare `Deno.serve` that answers every request with the same bytes and
 * content type as the subject's response (read from a file once), and nothing else — no
 * routing, middleware, headers or logging. What the agent is compared with.
 *
 * Usage: deno run --allow-net --allow-read tests/bench/bare_server.ts PORT BODY_FILE CONTENT_TYPE
 * @module
 */
const [port, bodyFile, contentType] = Deno.args;
const body = await Deno.readFile(bodyFile);
const headers = { "content-type": contentType };
Deno.serve(
  { port: Number(port), hostname: "127.0.0.1", onListen: () => console.log("listening") },
  () => new Response(body, { headers }),
);
