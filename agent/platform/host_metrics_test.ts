import assert from "node:assert/strict";
import { MetricsRegistry } from "./metrics.ts";
import {
  certificateNotAfter,
  registerCertificateMetrics,
  registerDiskMetrics,
} from "./host_metrics.ts";

/** A self-signed test certificate (public, no key): valid until 2126-11-10T14:32:41Z. */
const TEST_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUO/qZKhum5rI6DOJCIVYrTz/YEHUwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMb3V0cG9zdC10ZXN0MCAXDTI2MTIwNDE0MzI0MVoYDzIxMjYx
MTEwMTQzMjQxWjAXMRUwEwYDVQQDDAxvdXRwb3N0LXRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAR37qi7X7l4/m7ZbjTP91mx5zFe4nmFc6dRFjltfACgR9dH
Mr1E8uwIaSEDRAoIYNIX0iSui0ucrNzN9Xped2C2o1MwUTAdBgNVHQ4EFgQUJMIK
358mFlCBn2eAxWQBxCKrhs8wHwYDVR0jBBgwFoAUJMIK358mFlCBn2eAxWQBxCKr
hs8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAvKwpb9pu+H7p
bLdiz9aF2FoUnpQkuJ61TdtnJBA+WLQCIGrfQSFCVmzWMKB/uz4TOGNAjGIkiUo6
XvtNmbReCLW/
-----END CERTIFICATE-----
`;

Deno.test("certificate expiry is read from the PEM file at each scrape; a bad file reads 0", async () => {
  assert.equal(await certificateNotAfter(TEST_CERTIFICATE), Date.UTC(2126, 10, 10, 14, 32, 41));
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/good.crt`, TEST_CERTIFICATE);
    await Deno.writeTextFile(`${dir}/bad.crt`, "not a certificate");
    const registry = new MetricsRegistry();
    registerCertificateMetrics(registry, {
      cloud: `${dir}/good.crt`,
      broken: `${dir}/bad.crt`,
      missing: `${dir}/none.crt`,
    });
    const text = await registry.render();
    const expiry = Date.UTC(2126, 10, 10, 14, 32, 41) / 1000;
    assert.match(
      text,
      new RegExp(`outpost_certificate_expiry_timestamp_seconds\\{certificate="cloud"\\} ${expiry}`),
    );
    assert.doesNotMatch(text, /expiry_timestamp_seconds\{certificate="broken"/);
    assert.match(text, /outpost_certificate_readable\{certificate="cloud"\} 1/);
    assert.match(text, /outpost_certificate_readable\{certificate="broken"\} 0/);
    assert.match(text, /outpost_certificate_readable\{certificate="missing"\} 0/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("disk gauges report the free and total bytes of the data dir's filesystem", async () => {
  const registry = new MetricsRegistry();
  registerDiskMetrics(registry, Deno.cwd());
  const text = await registry.render();
  const free = Number(/outpost_disk_free_bytes (\d+)/.exec(text)?.[1]);
  const size = Number(/outpost_disk_size_bytes (\d+)/.exec(text)?.[1]);
  assert.ok(size > 0 && free > 0 && free <= size, `free ${free} of ${size}`);
});
