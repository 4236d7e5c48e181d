import assert from "node:assert/strict";
import {
  formatDate,
  formatDateTime,
  formatMoment,
  formatNumber,
  formatTime,
  sameUtcDay,
} from "./format.ts";

Deno.test("formatNumber never turns the largest doubles into Infinity", () => {
  assert.equal(formatNumber(Number.MAX_VALUE), "1.80e+308");
  assert.equal(formatNumber(-Number.MAX_VALUE), "-1.80e+308");
  assert.equal(formatNumber(1.7976931348623157e308 / 2), "8.99e+307");
  assert.equal(formatNumber(21.456), "21.46");
  assert.equal(formatNumber(0.0001234), "1.23e-4");
  assert.equal(formatNumber(5e-324), "4.94e-324");
});

Deno.test("dates and times read right for years outside 1000-9999 too", () => {
  assert.equal(formatDateTime("0001-01-01T00:00:00Z"), "0001-01-01 00:00:00 UTC");
  assert.equal(formatDateTime("9999-12-31T23:59:59Z"), "9999-12-31 23:59:59 UTC");
  assert.equal(formatDateTime(253402300800000), "10000-01-01 00:00:00 UTC");
  assert.equal(formatTime(253402300800000 + 5000), "00:00:05");
  assert.equal(formatDate(Date.parse("2026-11-26T10:00:00Z")), "2026-11-26");
  assert.equal(formatDateTime("not a date"), "—");
});

Deno.test("formatMoment names the date unless the moment is on today's UTC day", () => {
  const now = Date.parse("2026-11-26T12:00:00Z");
  assert.equal(formatMoment("2026-11-26T00:00:01Z", now), "00:00:01 UTC");
  assert.equal(formatMoment("2026-11-25T23:59:59Z", now), "2026-11-25 23:59:59 UTC");
  assert.equal(formatMoment("9999-12-31T23:59:59Z", now), "9999-12-31 23:59:59 UTC");
  assert.equal(sameUtcDay(now, now + 11 * 3_600_000), true);
  assert.equal(sameUtcDay(now, now + 12 * 3_600_000), false);
});
