/**
 * Shared pieces of the UI's route tests: reading an HTML response and an island's props.
 * @module
 */
import assert from "node:assert/strict";
import { decodeIslandProps } from "../island_runtime.ts";

/** The page's text, after checking its status and that it is HTML. */
export async function html(response: Response, status = 200): Promise<string> {
  const text = await response.text();
  assert.equal(response.status, status, text.slice(0, 500));
  assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
  return text;
}

/** The decoded props of the island `name` on `page`. */
export function islandProps(page: string, name: string): Record<string, unknown> {
  const id = new RegExp(`<outpost-island data-island="${name}" data-props-id="([^"]+)"`).exec(page);
  assert.ok(id, `no ${name} island on the page`);
  const script = new RegExp(
    `<script type="application/json" id="${id[1]}"[^>]*>(.*?)</script>`,
    "s",
  )
    .exec(page);
  assert.ok(script);
  return decodeIslandProps(script[1]);
}
