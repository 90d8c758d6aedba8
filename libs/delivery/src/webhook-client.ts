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
  /**
   * The first 2 KiB of the body as UTF-8; for a body with a `content-encoding` other than
   * `identity` (never asked for), a note instead: `[gzip-encoded body, 1234 bytes, not shown]`.
   */
  readonly body: string;
  /** Whether the receiver sent more than 2 KiB of body. */
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

interface ParsedTarget {
  readonly origin: string;
  readonly path: string;
}
/** URLs whose parse is kept; past this the cache starts over. */
const MAX_PARSED_TARGETS = 10_000;

/** Where an attempt's connection comes from. */
export interface WebhookPoolChoice {
  /**
   * Attempts with the same key share keep-alive connections (per origin), and no others do:
   * the delivery engine uses the subscription id, so one subscription's hanging requests can
   * never hold the connections another one needs. Default: one shared pool.
   */
  readonly key: string;
  /** Connections per origin in this pool; the engine passes the subscription's `maxInFlight`. */
  readonly connections: number;
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
  /** Keyed pools (see WebhookPoolChoice), each with its connection bound. */
  private readonly pools = new Map<string, { agent: Agent; connections: number }>();
  private readonly agentOptions: Agent.Options;
  private closed = false;
  private readonly targets = new Map<string, ParsedTarget>();
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(options: WebhookClientOptions) {
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.agentOptions = {
      connect: guardedConnector(
        options.policy,
        options.resolver ?? systemResolver,
        this.connectTimeoutMs,
        options.ca,
      ),
      headersTimeout: this.requestTimeoutMs,
      bodyTimeout: this.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
    };
    this.agent = new Agent({
      ...this.agentOptions,
      ...(options.connectionsPerOrigin === undefined
        ? {}
        : { connections: options.connectionsPerOrigin }),
    });
  }

  /**
   * Without a bound, undici opens a connection for every request that finds the others busy:
   * 100 subscriptions at 64 in flight to one receiver opened 12,800 and scanned them all on
   * every request. A pool per key, bounded by what that key may have in flight, opens at most
   * that many.
   */
  private dispatcherFor(pool: WebhookPoolChoice | undefined): Agent {
    // After close() the shared agent answers every send with an error.
    if (pool === undefined || this.closed) return this.agent;
    const existing = this.pools.get(pool.key);
    if (existing && existing.connections === pool.connections) return existing.agent;
    // A new bound (maxInFlight changed): requests in flight finish on the old pool.
    if (existing) void existing.agent.close().catch(() => undefined);
    const agent = new Agent({ ...this.agentOptions, connections: Math.max(1, pool.connections) });
    this.pools.set(pool.key, { agent, connections: pool.connections });
    return agent;
  }

  /** The origin and path of a URL, parsed once: subscriptions send to the same few URLs. */
  private parseTarget(raw: string): ParsedTarget {
    let target = this.targets.get(raw);
    if (target === undefined) {
      const url = new URL(raw);
      target = { origin: url.origin, path: `${url.pathname}${url.search}` };
      if (this.targets.size >= MAX_PARSED_TARGETS) this.targets.clear();
      this.targets.set(raw, target);
    }
    return target;
  }

  /** Closes a keyed pool (its subscription is gone or paused) once its requests finish. */
  release(key: string): void {
    const existing = this.pools.get(key);
    if (!existing) return;
    this.pools.delete(key);
    void existing.agent.close().catch(() => undefined);
  }

  /**
   * One attempt. It goes through undici's dispatch API with one small handler rather than
   * `request()`: no body stream, async iterator or AbortSignal per attempt, which at thousands
   * of deliveries a second were most of the client's cost.
   */
  send(request: WebhookSend, pool?: WebhookPoolChoice): Promise<WebhookAttemptResult> {
    return new Promise((resolve) => {
      let target: ParsedTarget;
      try {
        target = this.parseTarget(request.url);
      } catch (error) {
        resolve({
          kind: 'error',
          ...classifyError(error, this.connectTimeoutMs),
          durationMs: 0,
          cause: error,
        });
        return;
      }
      const attempt = new AttemptHandler(resolve, this.connectTimeoutMs);
      attempt.deadline = setTimeout(
        () => attempt.expire(new RequestDeadlineError(this.requestTimeoutMs)),
        this.requestTimeoutMs,
      );
      this.dispatcherFor(pool).dispatch(
        {
          origin: target.origin,
          path: target.path,
          method: 'POST',
          headers: request.headers,
          body: request.body,
        },
        attempt,
      );
    });
  }

  /** Closes every pool, letting requests in flight finish first. */
  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([this.agent.close(), ...pools.map((p) => p.agent.close())]);
  }

  /**
   * Closes every pool now, ending requests still in flight with an error: for a shutdown that
   * has already waited for them as long as it can (a hanging receiver would otherwise hold it
   * for a whole request timeout).
   */
  async destroy(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([this.agent.destroy(), ...pools.map((p) => p.agent.destroy())]);
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

/** A response that is not HTTP: it counts as a network error, and its connection is closed. */
class MalformedResponseError extends Error {}

/** Set when we cut a long response body off: the response still counts, truncated. */
class BodyCutError extends Error {}

/**
 * Collects one attempt's response: status, headers and up to 2 KiB of the body; past that, up
 * to DISCARD_LIMIT_BYTES more are read and dropped so the connection can be reused, and a longer
 * body is cut off by closing the connection, cheaper than reading it all. Settles exactly once.
 *
 * It implements undici's original handler interface (`onConnect`, `onHeaders`, …), the one its
 * HTTP/1.1 client calls: a handler with the newer `onRequestStart` interface is wrapped in an
 * adapter that also parses every response's headers and trailers into objects first, and at
 * thousands of attempts a second that was a measurable share of the client's work. The raw
 * headers are read once here, straight into the lower-case map the result carries.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  deadline: NodeJS.Timeout | undefined;
  private readonly started = performance.now();
  private abort: ((reason: Error) => void) | undefined;
  private settled = false;
  private status = 0;
  private headers: Record<string, string> = {};
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private seenBytes = 0;
  /** The body's content coding when it is not plain bytes; it is then counted, not kept. */
  private encoding: string | undefined;

  constructor(
    private readonly resolve: (result: WebhookAttemptResult) => void,
    private readonly connectTimeoutMs: number,
  ) {}

  onConnect(abort: (reason: Error) => void): void {
    this.abort = abort;
    // The deadline passed while the request waited for a connection.
    if (this.settled) abort(new RequestDeadlineError(0));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // undici parses any three digits (and answers 1xx itself); past 599 it is not HTTP.
    if (statusCode > 599) {
      this.abort?.(new MalformedResponseError(`invalid HTTP status ${statusCode}`));
      return false;
    }
    this.status = statusCode;
    this.headers = headerMap(rawHeaders);
    this.encoding = contentCodingOf(this.headers['content-encoding']);
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.seenBytes += chunk.length;
    if (this.encoding === undefined && this.keptBytes < MAX_RESPONSE_BODY_BYTES) {
      const part = chunk.subarray(0, MAX_RESPONSE_BODY_BYTES - this.keptBytes);
      this.kept.push(part);
      this.keptBytes += part.length;
    }
    if (this.seenBytes > MAX_RESPONSE_BODY_BYTES + DISCARD_LIMIT_BYTES)
      this.abort?.(new BodyCutError('response body cut off'));
    return true;
  }

  onComplete(): void {
    this.respond();
  }

  onError(error: Error): void {
    if (error instanceof BodyCutError) this.respond(true);
    else this.fail(error);
  }

  /** The attempt's deadline passed: it fails as a timeout, and the request is abandoned. */
  expire(reason: RequestDeadlineError): void {
    this.fail(reason);
    this.abort?.(reason);
  }

  private respond(cut = false): void {
    if (this.settled) return;
    const truncated = this.seenBytes > MAX_RESPONSE_BODY_BYTES;
    let body = '';
    if (this.encoding !== undefined && this.seenBytes > 0) {
      // Compressed bytes read as text are mojibake, and inflating them could be a zip bomb.
      const size = `${cut ? 'at least ' : ''}${this.seenBytes} bytes`;
      body = `[${this.encoding}-encoded body, ${size}, not shown]`;
    } else if (this.keptBytes > 0) {
      const bytes = this.kept.length === 1 ? this.kept[0]! : Buffer.concat(this.kept);
      // In stream mode the decoder holds back a multi-byte character cut in half by the cap.
      body = new TextDecoder('utf-8').decode(bytes, { stream: truncated });
    }
    this.settle({
      kind: 'response',
      status: this.status,
      headers: this.headers,
      body,
      bodyTruncated: truncated,
      durationMs: this.elapsed(),
    });
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settle({
      kind: 'error',
      ...classifyError(error, this.connectTimeoutMs),
      durationMs: this.elapsed(),
      cause: error,
    });
  }

  private settle(result: WebhookAttemptResult): void {
    this.settled = true;
    clearTimeout(this.deadline);
    this.resolve(result);
  }

  private elapsed(): number {
    return Math.round((performance.now() - this.started) * 10) / 10;
  }
}

const CONTENT_CODING = /^[!#$%&'*+\-.^_`|~0-9a-z]{1,32}$/;

/**
 * The content codings of a `content-encoding` value other than `identity`, for the delivery
 * log's note (`gzip`, `gzip, br`); undefined when the body is plain. A value that is not a short
 * list of tokens is named `unrecognised` rather than echoed.
 */
function contentCodingOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const codings = header
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return undefined;
  return codings.length <= 4 && codings.every((coding) => CONTENT_CODING.test(coding))
    ? codings.join(', ')
    : 'unrecognised';
}

/** Raw response headers (name, value, name, value…) by lower-case name; repeats joined with `, `. */
function headerMap(raw: readonly Buffer[]): Record<string, string> {
  const map: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const earlier = map[name];
    map[name] = earlier === undefined ? value : `${earlier}, ${value}`;
  }
  return map;
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
  if (error instanceof MalformedResponseError) return { error: 'network', message: error.message };
  if (isHeraldError(error, DeliveryErrorCode.addressRefused))
    return { error: 'refused_address', message: error.message };
  if (isHeraldError(error, DeliveryErrorCode.hostUnresolvable))
    return { error: 'connect', message: error.message };
  // Happy-eyeballs connects report every address's failure at once; the first is representative.
  if (error instanceof AggregateError && error.errors.length > 0)
    return classifyError(error.errors[0], connectTimeoutMs);
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  // undici refuses before sending: a header value HTTP cannot carry.
  if (code === 'UND_ERR_INVALID_ARG')
    return { error: 'invalid_request', message: `not sent: ${message}` };
  // undici asserts what its parser let through, such as a status below 100: one line for the log.
  if (code === 'ERR_ASSERTION')
    return {
      error: 'network',
      message: `undici rejected the response: ${message.replace(/\s+/g, ' ').trim()}`,
    };
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
