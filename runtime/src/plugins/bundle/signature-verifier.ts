import type { KeyObject } from 'node:crypto';
import { compactVerify, decodeProtectedHeader } from 'jose';
import type { BundleSigning } from './config';
import { hashBundleFile } from './file-hash';
import type { KeyConfig } from './keys';
import type { BundleFile } from '../../engine/bundle-archive';
import { BundleError, errorMessage } from '../../errors';
import { nodeCrypto } from '../../node-crypto';
import { Pacer } from '../../pacer';

/** The bundle's signature file, at its root (https://www.openpolicyagent.org/docs/management-bundles#signature-format). */
export const SIGNATURES_FILE = '.signatures.json';

interface SignedFile {
  readonly name: string;
  readonly hash: string;
  readonly algorithm: string;
}

interface SignaturePayload {
  readonly files?: SignedFile[];
  /** Deprecated in OPA in favour of the JWT's `kid` header; still honoured. */
  readonly keyid?: string;
  readonly scope?: string;
}

/**
 * Verifies a bundle's `.signatures.json` as OPA does (`v1/bundle/verify.go`): exactly one JWT,
 * signed by the key that `signing.keyid` (else the JWT's `kid`, else its `keyid` claim) names,
 * with the expected `scope`; then every file of the bundle, except `.signatures.json` and the
 * `exclude_files` patterns, must be listed in the JWT with a matching digest, and every listed
 * file must be present.
 *
 * `signing` undefined means no key is configured: an unsigned bundle passes, a signed one is
 * refused, as in OPA ("verification key not provided").
 */
export async function verifyBundleSignature(
  bundle: string,
  files: readonly BundleFile[],
  signing: BundleSigning | undefined,
  keys: ReadonlyMap<string, KeyConfig>,
  signal?: AbortSignal,
): Promise<void> {
  const signaturesFile = files.find((f) => f.path === SIGNATURES_FILE);
  if (!signaturesFile) {
    if (signing?.required) throw new BundleError(bundle, `bundle missing ${SIGNATURES_FILE} file`);
    return;
  }
  if (!signing) throw new BundleError(bundle, `bundle is signed (${SIGNATURES_FILE}) but no verification key is configured (keys, bundles.${bundle}.signing)`);

  const token = readSingleToken(bundle, signaturesFile.data);
  const payload = await verifyToken(bundle, token, signing, keys);

  const signed = new Map<string, SignedFile>();
  for (const file of payload.files ?? []) signed.set(file.name.replace(/^\/+/, ''), file);
  const excluded = signing.excludeFiles.map(globToRegExp);
  const pacer = new Pacer();
  for (const file of files) {
    if (pacer.due()) {
      await pacer.yield();
      if (signal?.aborted) throw signal.reason;
    }
    if (file.path === SIGNATURES_FILE) continue;
    if (excluded.some((re) => re.test(file.path))) {
      signed.delete(file.path);
      continue;
    }
    const entry = signed.get(file.path);
    if (!entry) throw new BundleError(bundle, `file ${file.path} not included in bundle signature`);
    if (!entry.algorithm) throw new BundleError(bundle, `no hashing algorithm provided for file ${file.path}`);
    let digest: string;
    try {
      digest = hashBundleFile(file.path, file.data, entry.algorithm);
    } catch (err) {
      throw new BundleError(bundle, `${file.path}: ${errorMessage(err)}`, { cause: err });
    }
    if (digest !== String(entry.hash).toLowerCase()) {
      throw new BundleError(bundle, `${file.path}: digest mismatch (want: ${entry.hash}, got: ${digest})`);
    }
    signed.delete(file.path);
  }
  if (signed.size > 0) {
    throw new BundleError(bundle, `file(s) [${[...signed.keys()].join(' ')}] specified in bundle signatures but not found in the target bundle`);
  }
}

function readSingleToken(bundle: string, data: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch (err) {
    throw new BundleError(bundle, `${SIGNATURES_FILE} is not valid JSON: ${errorMessage(err)}`, { cause: err });
  }
  const signatures = (parsed as { signatures?: unknown } | null)?.signatures;
  if (signatures !== undefined && (!Array.isArray(signatures) || signatures.some((s) => typeof s !== 'string'))) {
    throw new BundleError(bundle, `${SIGNATURES_FILE}: signatures must be a list of JWTs`);
  }
  const list = (signatures ?? []) as string[];
  // `opa build` writes "plugin": "_default", the built-in verifier; other verifiers are Go plugins.
  const plugin = (parsed as { plugin?: unknown }).plugin;
  if (plugin !== undefined && plugin !== '' && plugin !== '_default') {
    throw new BundleError(bundle, `${SIGNATURES_FILE}: custom verification plugins are not supported`);
  }
  if (list.length === 0) throw new BundleError(bundle, `${SIGNATURES_FILE}: missing JWT (expected exactly one)`);
  if (list.length > 1) throw new BundleError(bundle, `${SIGNATURES_FILE}: multiple JWTs not supported (expected exactly one)`);
  return list[0];
}

async function verifyToken(bundle: string, token: string, signing: BundleSigning, keys: ReadonlyMap<string, KeyConfig>): Promise<SignaturePayload> {
  let kid: unknown;
  let claims: SignaturePayload;
  try {
    kid = decodeProtectedHeader(token).kid;
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as SignaturePayload;
  } catch (err) {
    throw new BundleError(bundle, `${SIGNATURES_FILE}: the JWT cannot be decoded: ${errorMessage(err)}`, { cause: err });
  }
  const keyId = signing.keyId || (typeof kid === 'string' ? kid : '') || claims.keyid || '';
  if (!keyId) throw new BundleError(bundle, 'verification key ID is empty');
  const key = keys.get(keyId);
  if (!key) throw new BundleError(bundle, `verification key corresponding to ID ${keyId} not found`);
  if (key.key === undefined) throw new BundleError(bundle, `keys.${keyId} has no key (public key or secret) to verify with`);

  let payload: SignaturePayload;
  try {
    const verified = await compactVerify(token, importKey(key), { algorithms: [key.algorithm] });
    payload = JSON.parse(Buffer.from(verified.payload).toString('utf8')) as SignaturePayload;
  } catch (err) {
    throw new BundleError(bundle, `bundle signature verification failed: ${errorMessage(err)}`, { cause: err });
  }
  const scope = signing.scope || key.scope || '';
  if ((payload.scope ?? '') !== scope) throw new BundleError(bundle, 'scope mismatch');
  return payload;
}

/** HMAC keys are the secret's bytes; others are PEM public keys, private keys or certificates. */
function importKey(key: KeyConfig): KeyObject | Uint8Array {
  const material = key.key!;
  if (key.algorithm.startsWith('HS')) return new TextEncoder().encode(material);
  try {
    if (material.includes('-----BEGIN CERTIFICATE-----')) return new (nodeCrypto().X509Certificate)(material).publicKey;
    return nodeCrypto().createPublicKey(material);
  } catch (err) {
    throw new Error(`keys.${key.name}.key is not a PEM public key, private key or certificate: ${errorMessage(err)}`, { cause: err });
  }
}

/** Go's `filepath.Match` syntax (OPA matches `exclude_files` with it): `*`, `?`, `[...]`, `\\`. */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') {
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += escapeRegExp(pattern[++i]);
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^/' : ''}${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = close;
    } else {
      re += escapeRegExp(c);
    }
  }
  return new RegExp(`^${re}$`, 's');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
