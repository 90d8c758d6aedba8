import {
  createHmac,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
  type Hmac,
  type KeyObject,
} from 'node:crypto';
import { InvalidSecretError } from './delivery.errors';

const SECRET_PREFIX = 'whsec_';
const SIGNATURE_VERSION = 'v1';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Standard Webhooks recommends 24 to 64 bytes of key material. */
export const MIN_SECRET_BYTES = 24;
export const DEFAULT_SECRET_BYTES = 32;
/** How far a verified timestamp may be from now, in seconds (Standard Webhooks uses 5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** What a signature covers: the event id (stable across retries), the send time, the exact body. */
export interface SignedContent {
  readonly id: string;
  /** Unix time in whole seconds, as sent in `webhook-timestamp`. */
  readonly timestamp: number;
  readonly body: string | Uint8Array;
}

/** A new signing secret, `whsec_` followed by `bytes` random bytes in base64 (default 32). */
export function generateSecret(bytes: number = DEFAULT_SECRET_BYTES): string {
  if (!Number.isInteger(bytes) || bytes < MIN_SECRET_BYTES || bytes > 64) {
    throw new InvalidSecretError(
      `a secret needs ${MIN_SECRET_BYTES} to 64 random bytes, not ${bytes}`,
    );
  }
  return `${SECRET_PREFIX}${randomBytes(bytes).toString('base64')}`;
}

/** The HMAC key inside a `whsec_<base64>` secret. */
export function decodeSecret(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new InvalidSecretError(`a signing secret starts with ${SECRET_PREFIX}`);
  }
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!BASE64.test(encoded) || encoded.length % 4 !== 0) {
    throw new InvalidSecretError(`a signing secret is ${SECRET_PREFIX} followed by base64`);
  }
  return Buffer.from(encoded, 'base64');
}

// Keys of the secrets in use, decoded once into key objects (which HMAC takes without copying
// them each time), so a send does not decode base64 again; bounded by clearing.
const decodedKeys = new Map<string, KeyObject>();
const MAX_DECODED_KEYS = 10_000;

function keyOf(secret: string): KeyObject {
  let key = decodedKeys.get(secret);
  if (key === undefined) {
    key = createSecretKey(decodeSecret(secret));
    if (decodedKeys.size >= MAX_DECODED_KEYS) decodedKeys.clear();
    decodedKeys.set(secret, key);
  }
  return key;
}

/** The HMAC-SHA256 of `content` with `key`, ready for `digest`. */
function hmac(content: SignedContent, key: Buffer | KeyObject): Hmac {
  const prefix = `${content.id}.${content.timestamp}.`;
  // A text body goes in with its prefix as one string: one update, not two.
  return typeof content.body === 'string'
    ? createHmac('sha256', key).update(prefix + content.body)
    : createHmac('sha256', key).update(prefix).update(content.body);
}

/** One `v1,<base64>` signature of `content` with `secret`. */
export function signWebhook(content: SignedContent, secret: string): string {
  // Straight to base64: no intermediate Buffer per signature.
  return `${SIGNATURE_VERSION},${hmac(content, keyOf(secret)).digest('base64')}`;
}

/**
 * The `webhook-signature` header value: one signature per live secret, space-separated, so a
 * receiver that still holds the old secret during a rotation grace period keeps verifying.
 */
export function webhookSignatureHeader(content: SignedContent, secrets: readonly string[]): string {
  if (secrets.length === 0) throw new InvalidSecretError('at least one signing secret is needed');
  if (secrets.length === 1) return signWebhook(content, secrets[0]!);
  return secrets.map((secret) => signWebhook(content, secret)).join(' ');
}

/** `webhook-timestamp` for a send at `nowMs` (Unix seconds). */
export function webhookTimestamp(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

export interface VerifyOptions {
  /** Accepted distance between the timestamp and now, in seconds; default 300. */
  readonly toleranceSeconds?: number;
  /** The verifier's clock in milliseconds; default Date.now(). */
  readonly nowMs?: number;
}

/**
 * Whether `signatureHeader` holds a valid `v1` signature of `content` by `secret` and the
 * timestamp is within tolerance (which stops replays of captured requests). Compares in
 * constant time.
 */
export function verifyWebhookSignature(
  content: SignedContent,
  signatureHeader: string,
  secret: string,
  options: VerifyOptions = {},
): boolean {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = webhookTimestamp(options.nowMs ?? Date.now());
  if (!Number.isInteger(content.timestamp) || Math.abs(now - content.timestamp) > tolerance)
    return false;
  const expected = hmac(content, decodeSecret(secret)).digest();
  return signatureHeader
    .split(' ')
    .filter((entry) => entry.startsWith(`${SIGNATURE_VERSION},`))
    .map((entry) => Buffer.from(entry.slice(SIGNATURE_VERSION.length + 1), 'base64'))
    .some(
      (candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected),
    );
}
