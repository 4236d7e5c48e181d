/**
 * Throwaway certificates for TLS tests, made with `openssl`: a CA, a server certificate it
 * signed for 127.0.0.1 and localhost, and an unrelated CA (for "wrong CA" cases).
 * EC P-256 keys: generated in milliseconds, unlike RSA.
 * @module
 */
import { requireTool, runCommand } from "../manifests/kube.ts";

/** Files of a test PKI, all PEM. */
export interface TestPki {
  dir: string;
  /** The CA that signed the server certificate. */
  caCert: string;
  /** A CA that signed nothing here. */
  otherCaCert: string;
  /** Server certificate with SAN IP:127.0.0.1 and DNS:localhost. */
  serverCert: string;
  serverKey: string;
}

async function openssl(args: string[]): Promise<void> {
  const result = await runCommand(requireTool("openssl", "openssl"), args);
  if (result.code !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

/** Options of {@link selfSignedCertificate}. */
export interface SelfSignedOptions {
  /** Validity in days; default 2. */
  days?: number;
  /** `subjectAltName` value, e.g. `DNS:localhost,IP:127.0.0.1`; default none. */
  subjectAltName?: string;
}

/**
 * A self-signed EC certificate (a CA, or a server certificate standing in for cert-manager's):
 * writes `<dir>/<name>.key` and `<dir>/<name>.crt`, returns their paths.
 */
export async function selfSignedCertificate(
  dir: string,
  name: string,
  subject: string,
  options: SelfSignedOptions = {},
): Promise<{ cert: string; key: string }> {
  const paths = { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    String(options.days ?? 2),
    "-subj",
    subject,
    ...(options.subjectAltName ? ["-addext", `subjectAltName=${options.subjectAltName}`] : []),
    "-keyout",
    paths.key,
    "-out",
    paths.cert,
  ]);
  return paths;
}

/** Creates a fresh PKI in a new temp dir (or `dir`). Remove the dir when done. */
export async function createTestPki(dir?: string): Promise<TestPki> {
  const root = dir ?? await Deno.makeTempDir({ prefix: "outpost-pki-" });
  await selfSignedCertificate(root, "ca", "/CN=Outpost Test CA");
  await selfSignedCertificate(root, "other-ca", "/CN=Unrelated Test CA");
  await openssl([
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    "/CN=127.0.0.1",
    "-keyout",
    `${root}/server.key`,
    "-out",
    `${root}/server.csr`,
  ]);
  await Deno.writeTextFile(
    `${root}/server.ext`,
    [
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
      "basicConstraints=CA:FALSE",
      "keyUsage=digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
    ].join("\n"),
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${root}/server.csr`,
    "-CA",
    `${root}/ca.crt`,
    "-CAkey",
    `${root}/ca.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${root}/server.ext`,
    "-out",
    `${root}/server.crt`,
  ]);
  return {
    dir: root,
    caCert: `${root}/ca.crt`,
    otherCaCert: `${root}/other-ca.crt`,
    serverCert: `${root}/server.crt`,
    serverKey: `${root}/server.key`,
  };
}
