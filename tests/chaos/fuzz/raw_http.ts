/**
 * HTTP requests written byte by byte over TCP, for what `fetch` will not send: literal `../` in
 * the path, lying Content-Length, broken chunking, absurd request lines and headers.
 * @module
 */
import type { Rng } from "../rng.ts";

/** What came back for a raw request: a status, or nothing before the socket closed. */
export interface RawAnswer {
  status?: number;
  /** The first line received, for the report. */
  statusLine?: string;
  error?: string;
}

/** Sends `request` to `host:port` and reads the status line (waits at most `timeoutMs`). */
export async function sendRaw(
  host: string,
  port: number,
  request: Uint8Array,
  timeoutMs = 3000,
): Promise<RawAnswer> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: host, port });
  } catch (error) {
    return { error: `connect: ${(error as Error).message}` };
  }
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }, timeoutMs);
  try {
    await conn.write(request).catch(() => 0);
    // A lying Content-Length leaves the server waiting for bytes that never come: half-close.
    await conn.closeWrite().catch(() => {});
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\r\n")) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    const statusLine = text.split("\r\n")[0];
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    return match
      ? { status: Number(match[1]), statusLine }
      : { error: "no status line", statusLine };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** One malformed request for a server whose routes include `paths`. */
export function rawRequest(rng: Rng, host: string, paths: string[]): Uint8Array {
  const path = rng.pick(paths);
  const hostHeader = `Host: ${host}\r\n`;
  const body = '{"sensor":"raw","value":';
  const text = rng.pick([
    () => `GET ${path}/../../../../etc/passwd HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET /assets/../../deno.json HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET /assets/..%2f..%2fdeno.json HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET //etc/passwd HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET http://127.0.0.1:1/${path} HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET * HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `FOO ${path} HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET ${path}\r\n\r\n`,
    () => `GET ${path} HTTP/1.1\r\n\r\n`,
    () => `GET ${path} HTTP/9.9\r\n${hostHeader}\r\n`,
    () => `GET ${path}?${"a=1&".repeat(20_000)} HTTP/1.1\r\n${hostHeader}\r\n`,
    () => `GET ${path} HTTP/1.1\r\n${hostHeader}X-Big: ${"b".repeat(70_000)}\r\n\r\n`,
    () => `GET ${path} HTTP/1.1\r\n${hostHeader}X-Folded: a\r\n  b\r\n\r\n`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n${body}`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nContent-Length: 3\r\n\r\n${body}1}`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nContent-Length: -1\r\n\r\n{}`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nContent-Length: 99999999999999999999\r\n\r\n{}`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    () =>
      `POST ${path} HTTP/1.1\r\n${hostHeader}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n${body}`,
    () => `\u0000\u0001\u0002 ${path} HTTP/1.1\r\n${hostHeader}\r\n`,
  ])();
  return new TextEncoder().encode(text);
}
