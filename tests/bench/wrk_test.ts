import assert from "node:assert/strict";
import { parseWrkReport, wrkScript } from "./wrk.ts";

const REPORT = `Running 5s test @ http://127.0.0.1:18000/api/v1/readings
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.35ms  789.00us  44.87ms   71.47%
    Req/Sec    24.10k     3.99k   29.00k    60.00%
  Latency Distribution
     50%  980.00us
     75%    1.70ms
     90%    3.34ms
     99%    1.02s
  121373 requests in 5.00s, 84.51MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  24272.21
Transfer/sec:     16.90MB
`;

Deno.test("parseWrkReport reads rate, count, p50/p99 in any unit and every kind of error", () => {
  assert.deepEqual(parseWrkReport(REPORT), {
    requests: 121373,
    perSecond: 24272.21,
    p50Ms: 0.98,
    p99Ms: 1020,
    errors: 10,
  });
});

Deno.test("parseWrkReport refuses a report it cannot read instead of inventing figures", () => {
  assert.throws(
    () => parseWrkReport("unable to connect to 127.0.0.1:1 Connection refused"),
    /cannot read/,
  );
});

Deno.test("wrkScript sets method, headers and a body with quotes and newlines intact", () => {
  const script = wrkScript({
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: '[{"sensor":"a\\nb"}]',
  });
  assert.equal(
    script,
    'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n' +
      'wrk.body = "[{\\"sensor\\":\\"a\\\\nb\\"}]"\n',
  );
});
