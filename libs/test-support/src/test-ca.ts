import { generateKeyPair as generateKeyPairCallback, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPair = promisify(generateKeyPairCallback);

/** A certificate and its private key, both PEM. */
export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
}

export interface ServerCertificateOptions {
  /**
   * Names the certificate is valid for: host names become DNS SANs, IP literals IP SANs.
   * @default ['localhost', '127.0.0.1', '::1']
   */
  readonly hosts?: readonly string[];
}

export interface ClientCertificateOptions {
  /**
   * The app's bundle id; Apple puts it in the subject UID of an APNs certificate.
   * @default 'com.herald.test'
   */
  readonly topic?: string;
  /**
   * Which Apple Push Services extension the certificate carries. @parse/node-apn refuses a
   * certificate without the extension of the environment it is configured for, so the default
   * carries both, like Apple's "universal" certificate.
   * @default 'universal'
   */
  readonly environment?: 'sandbox' | 'production' | 'universal';
  /**
   * Days the certificate stays valid; a negative number gives an already expired certificate.
   * @default 365
   */
  readonly validDays?: number;
}

/** A throwaway certificate authority: self-signed RSA 2048, SHA-256, valid for a year. */
export interface TestCa {
  readonly certPem: string;
  readonly keyPem: string;
  /** A TLS server certificate (serverAuth) signed by this CA. */
  issueServerCertificate(options?: ServerCertificateOptions): Promise<IssuedCertificate>;
  /** An APNs-style TLS client certificate (clientAuth) signed by this CA. */
  issueClientCertificate(options?: ClientCertificateOptions): Promise<IssuedCertificate>;
  /**
   * Writes the CA certificate to `<os tmpdir>/herald-ca-XXXXXX/ca.pem` and returns that path
   * (what `HERALD_APNS_CA` takes). The caller removes the directory when it is done.
   */
  writeCaFile(): string;
}

/** Apple Push Services extensions (node-apn lib/credentials/certificate/oids.js). */
const APPLE_PUSH_DEVELOPMENT_OID = '1.2.840.113635.100.6.3.1';
const APPLE_PUSH_PRODUCTION_OID = '1.2.840.113635.100.6.3.2';
/** RFC 4519 `uid`, where Apple puts the bundle id of a push certificate. */
const UID_OID = '0.9.2342.19200300.100.1.1';
const DAY_MS = 24 * 60 * 60 * 1000;

/** RSA, not EC: node-forge signs certificates with RSA keys only. Node generates the keys (fast, native). */
async function newRsaKey(): Promise<{ forgeKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey; keyPem: string }> {
  const { privateKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgeKey = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { forgeKey, publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e), keyPem: privateKey };
}

function newCertificate(publicKey: forge.pki.PublicKey, validDays: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive 16-byte serial (RFC 5280 4.1.2.2): clear the top bit.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  cert.serialNumber = serial.toString('hex');
  // Backdated an hour so a small clock difference between processes cannot make it "not yet valid".
  cert.validity.notBefore = new Date(Date.now() - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(Date.now() + validDays * DAY_MS);
  if (validDays < 0) cert.validity.notBefore = new Date(cert.validity.notAfter.getTime() - DAY_MS);
  return cert;
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

/** Creates a new CA (one RSA key generation, ~100 ms). Tests normally share one: see {@link sharedTestCa}. */
export async function createTestCa(commonName = 'Herald Test CA'): Promise<TestCa> {
  const ca = await newRsaKey();
  const caCert = newCertificate(ca.publicKey, 365);
  const caSubject = [{ name: 'commonName', value: `${commonName} ${caCert.serialNumber.slice(0, 8)}` }];
  caCert.setSubject(caSubject);
  caCert.setIssuer(caSubject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.forgeKey, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(caCert);

  const issue = async (subject: forge.pki.CertificateField[], extensions: object[], validDays: number) => {
    const leaf = await newRsaKey();
    const cert = newCertificate(leaf.publicKey, validDays);
    cert.setSubject(subject);
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
      ...extensions,
    ]);
    cert.sign(ca.forgeKey, forge.md.sha256.create());
    return { certPem: forge.pki.certificateToPem(cert), keyPem: leaf.keyPem };
  };

  return {
    certPem,
    keyPem: ca.keyPem,
    issueServerCertificate(options = {}) {
      const hosts = options.hosts ?? ['localhost', '127.0.0.1', '::1'];
      const altNames = hosts.map((host) => (isIp(host) ? { type: 7, ip: host } : { type: 2, value: host }));
      return issue(
        [{ name: 'commonName', value: hosts[0] ?? 'localhost' }],
        [
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames },
        ],
        365,
      );
    },
    issueClientCertificate(options = {}) {
      const topic = options.topic ?? 'com.herald.test';
      const environment = options.environment ?? 'universal';
      // Apple's extensions hold an ASN.1 NULL; node-apn only checks that they are present. Not
      // critical (Apple marks them critical): OpenSSL, hence the mock's TLS server, would refuse
      // the certificate with "unhandled critical extension".
      const nullValue = forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.NULL, false, '')).getBytes();
      const apple: object[] = [];
      if (environment !== 'production') apple.push({ id: APPLE_PUSH_DEVELOPMENT_OID, value: nullValue });
      if (environment !== 'sandbox') apple.push({ id: APPLE_PUSH_PRODUCTION_OID, value: nullValue });
      const label = environment === 'sandbox' ? 'Apple Development IOS Push Services' : 'Apple Push Services';
      return issue(
        [
          { type: UID_OID, value: topic },
          { name: 'commonName', value: `${label}: ${topic}` },
        ],
        [{ name: 'keyUsage', digitalSignature: true, critical: true }, { name: 'extKeyUsage', clientAuth: true }, ...apple],
        options.validDays ?? 365,
      );
    },
    writeCaFile() {
      const file = join(mkdtempSync(join(tmpdir(), 'herald-ca-')), 'ca.pem');
      writeFileSync(file, certPem);
      return file;
    },
  };
}

let shared: Promise<TestCa> | undefined;

/** One CA per process (per jest test file), created on first use. */
export function sharedTestCa(): Promise<TestCa> {
  shared ??= createTestCa();
  return shared;
}
