import type { LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { rootCertificates } from 'node:tls';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { isHeraldError } from '@herald/errors';
import { judgeIp, type AddressPolicy } from './address-policy';
import { AddressRefusedError, DeliveryErrorCode, HostUnresolvableError } from './delivery.errors';
import {
  resolveAllowedAddresses,
  systemResolver,
  type HostResolver,
  type ResolvedAddress,
} from './host-resolver';
import { parseIpAddress } from './ip-address';
import type { AttemptErrorKind } from './retry-policy';

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;
/** How much of a response body is kept for the delivery log. */
export const MAX_RESPONSE_BODY_BYTES = 2048;
// Past the kept part, up to this much more is read and dropped so the connection can be reused;
// a longer body is cut off by closing the connection, cheaper than reading it all.
const DISCARD_LIMIT_BYTES = 64 * 1024;

export interface WebhookClientOptions {
  /** Which addresses may be connected to; checked on every new connection. */
  readonly policy: AddressPolicy;
  /** Resolves host names at connect time; default the system resolver. */
  readonly resolver?: HostResolver;
  /** DNS plus TCP (and TLS) connect, in milliseconds; default 5000. */
  readonly connectTimeoutMs?: number;
  /** The whole attempt, connect to last body byte read, in milliseconds; default 15000. */
  readonly requestTimeoutMs?: number;
  /** Idle keep-alive connections close after this many milliseconds; default 4000 (undici's). */
  readonly keepAliveTimeoutMs?: number;
  /** Connections per origin; default unlimited (the engine bounds concurrency per subscription). */
  readonly connectionsPerOrigin?: number;
  /** Extra trusted CAs for HTTPS receivers (tests, private PKI); default Node's bundle. */
  readonly ca?: readonly (string | Buffer)[];
}

export interface WebhookSend {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Uint8Array;
}

export interface WebhookResponse {
  readonly kind: 'response';
  readonly status: number;
  /** Response headers by lower-case name (repeated ones joined with `, `); `retry-after` feeds the retry policy. */
  readonly headers: Readonly<Record<string, string>>;
  /** The first 2 KiB of the body as UTF-8. */
  readonly body: string;
  readonly bodyTruncated: boolean;
  readonly durationMs: number;
}

export interface WebhookFailure {
  readonly kind: 'error';
  readonly error: AttemptErrorKind;
  readonly message: string;
  readonly durationMs: number;
  readonly cause: unknown;
}

/** One attempt's result; both variants are valid `AttemptOutcome`s for `decide`. */
export type WebhookAttemptResult = WebhookResponse | WebhookFailure;

/**
 * Sends webhook requests over keep-alive connections, one undici pool per origin. Every new
 * connection resolves the host, refuses it when any address is forbidden by the policy, and
 * connects only to the addresses it checked, so a DNS answer that changes after registration
 * (rebinding) cannot reach a private address. Redirects are never followed. Never throws from
 * `send`: failures come back classified.
 */
export class WebhookClient {
  private readonly agent: Agent;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(options: WebhookClientOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.agent = new Agent({
      connect: guardedConnector(
        options.policy,
        options.resolver ?? systemResolver,
        this.connectTimeoutMs,
        options.ca,
      ),
      headersTimeout: this.requestTimeoutMs,
      bodyTimeout: this.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
      ...(options.connectionsPerOrigin === undefined
        ? {}
        : { connections: options.connectionsPerOrigin }),
    });
  }

  async send(request: WebhookSend): Promise<WebhookAttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new RequestDeadlineError(this.requestTimeoutMs)),
      this.requestTimeoutMs,
    );
    try {
      const url = new URL(request.url);
      const response = await this.agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: deadline.signal,
      });
      const { text, truncated } = await readCapped(response.body, MAX_RESPONSE_BODY_BYTES);
      return {
        kind: 'response',
        status: response.statusCode,
        headers: flattenHeaders(response.headers),
        body: text,
        bodyTruncated: truncated,
        durationMs: elapsed(),
      };
    } catch (error) {
      const reason: unknown = deadline.signal.aborted ? deadline.signal.reason : error;
      return {
        kind: 'error',
        ...classifyError(reason, this.connectTimeoutMs),
        durationMs: elapsed(),
        cause: reason,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every pool, letting requests in flight finish first. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

class RequestDeadlineError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no complete response within ${timeoutMs} ms`);
  }
}

/**
 * A connector that judges IP literals before connecting and hands Node a lookup function that
 * returns only checked addresses, so the socket goes exactly where the policy said yes. The TLS
 * server name still comes from the URL host, so certificates are verified against the name.
 */
function guardedConnector(
  policy: AddressPolicy,
  resolver: HostResolver,
  connectTimeoutMs: number,
  ca: WebhookClientOptions['ca'],
): buildConnector.connector {
  const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
    const answer = (addresses: readonly ResolvedAddress[]) => {
      const usable = addresses.filter(
        (a) => !lookupOptions.family || a.family === lookupOptions.family,
      );
      const first = usable[0];
      if (first === undefined) {
        callback(new HostUnresolvableError(hostname), '', 0);
      } else if (lookupOptions.all) {
        callback(
          null,
          usable.map((a) => ({ address: a.address, family: a.family })),
        );
      } else {
        callback(null, first.address, first.family);
      }
    };
    resolveAllowedAddresses(hostname, policy, resolver).then(answer, (error: unknown) =>
      callback(error as NodeJS.ErrnoException, '', 0),
    );
  };
  const connect = buildConnector({
    timeout: connectTimeoutMs,
    lookup,
    ...(ca === undefined ? {} : { ca: [...rootCertificates, ...ca] }),
  });
  return (connectOptions, callback) => {
    // Node skips the lookup function for IP literals, so those are judged here.
    const literal = parseIpAddress(connectOptions.hostname);
    const verdict = literal ? judgeIp(literal, policy) : undefined;
    if (verdict && !verdict.allowed) {
      callback(new AddressRefusedError(connectOptions.hostname, verdict.reason), null);
      return;
    }
    connect(connectOptions, callback);
  };
}

/** Reads up to `maxBytes` of a body; the rest is drained (when short) or cut off with the connection. */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number) {
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let seenBytes = 0;
  for await (const chunk of body) {
    const bytes = chunk as Buffer;
    seenBytes += bytes.length;
    if (keptBytes < maxBytes) {
      const part = bytes.subarray(0, maxBytes - keptBytes);
      kept.push(part);
      keptBytes += part.length;
    }
    // Leaving the loop destroys the body stream, which closes the connection.
    if (seenBytes > maxBytes + DISCARD_LIMIT_BYTES) break;
  }
  const truncated = seenBytes > keptBytes;
  // In stream mode the decoder holds back a multi-byte character cut in half by the cap.
  const text = new TextDecoder('utf-8').decode(Buffer.concat(kept), { stream: truncated });
  return { text, truncated };
}

function flattenHeaders(headers: Dispatcher.ResponseData['headers']): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined)
      flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'ENOTFOUND',
  'EAI_AGAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

/** Sorts a failed attempt into the kinds the retry policy and the delivery log know. */
export function classifyError(
  error: unknown,
  connectTimeoutMs: number,
): { error: AttemptErrorKind; message: string } {
  if (error instanceof RequestDeadlineError) return { error: 'timeout', message: error.message };
  if (isHeraldError(error, DeliveryErrorCode.addressRefused))
    return { error: 'refused_address', message: error.message };
  if (isHeraldError(error, DeliveryErrorCode.hostUnresolvable))
    return { error: 'connect', message: error.message };
  // Happy-eyeballs connects report every address's failure at once; the first is representative.
  if (error instanceof AggregateError && error.errors.length > 0)
    return classifyError(error.errors[0], connectTimeoutMs);
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'UND_ERR_CONNECT_TIMEOUT')
    return { error: 'timeout', message: `connect timed out after ${connectTimeoutMs} ms` };
  if (code !== undefined && TIMEOUT_CODES.has(code)) return { error: 'timeout', message };
  if (
    code !== undefined &&
    (CONNECT_CODES.has(code) || code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_'))
  ) {
    return { error: 'connect', message: `${code}: ${message}` };
  }
  return { error: 'network', message: code === undefined ? message : `${code}: ${message}` };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
