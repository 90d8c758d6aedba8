import { isTraceparent } from '@herald/observability';
import { InvalidHeaderError } from './delivery.errors';
import { buildWebhookBody, type DeliveryEvent, type WebhookFormat } from './webhook-body';
import { webhookSignatureHeader, webhookTimestamp } from './webhook-signature';

/** Credentials Herald presents to the receiver. */
export type WebhookAuth =
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'basic'; readonly username: string; readonly password: string };

/** What the request builder needs to know about a subscription. */
export interface WebhookTarget {
  readonly id: string;
  readonly url: string;
  readonly format: WebhookFormat;
  /** Live signing secrets, newest first; two during a rotation grace period. */
  readonly secrets: readonly string[];
  /** Extra headers the subscriber asked for; never override the ones Herald sets. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly auth?: WebhookAuth | null;
}

export interface WebhookRequestInput {
  readonly event: DeliveryEvent;
  readonly subscription: WebhookTarget;
  /** 1 for the first send of this event to this subscription. */
  readonly attempt: number;
  /** True when the send comes from a replay (adds `herald-replay: true`). */
  readonly replay?: boolean;
  /** Send time in milliseconds; becomes `webhook-timestamp`. */
  readonly nowMs: number;
  /** Herald's version for `user-agent: Herald/<version>`. */
  readonly version: string;
  /** The W3C `traceparent` to send (the delivery's own span); default the event's. */
  readonly traceparent?: string;
}

export interface WebhookRequest {
  readonly url: string;
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body: string;
}

export const MAX_SUBSCRIPTION_HEADERS = 32;
export const MAX_HEADER_VALUE_LENGTH = 4096;

// Headers Herald sets or the HTTP client owns; a subscriber must not be able to forge a
// signature, impersonate an attempt number or break the framing of the request.
const RESERVED_NAMES = new Set([
  'content-type',
  'content-length',
  'content-encoding',
  'accept-encoding',
  'transfer-encoding',
  'user-agent',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'traceparent',
  'tracestate',
]);
const RESERVED_PREFIXES = ['webhook-', 'herald-'];
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Event ids a header carries as they are: visible ASCII, `%` aside. */
const PLAIN_WEBHOOK_ID = /^[\x21-\x24\x26-\x7e]+$/;

/**
 * The `webhook-id` of an event: its id, with every character a header cannot carry safely
 * (anything but visible ASCII: spaces, controls, non-ASCII text) and `%` percent-encoded as
 * UTF-8, so any CloudEvent id yields one stable, reversible header value that is signed as sent.
 */
export function webhookIdOf(eventId: string): string {
  if (PLAIN_WEBHOOK_ID.test(eventId)) return eventId;
  let id = '';
  for (const char of eventId) {
    if (PLAIN_WEBHOOK_ID.test(char)) id += char;
    else
      for (const byte of Buffer.from(char, 'utf8'))
        id += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return id;
}

/** Whether `name` is one Herald sets itself (any case). `authorization` is not: auth may be custom. */
export function isReservedHeaderName(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_NAMES.has(lower) || RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** Validates a subscription's headers at registration; throws InvalidHeaderError naming the problem. */
export function checkSubscriptionHeaders(headers: Readonly<Record<string, string>>): void {
  const entries = Object.entries(headers);
  if (entries.length > MAX_SUBSCRIPTION_HEADERS) {
    throw new InvalidHeaderError(
      `at most ${MAX_SUBSCRIPTION_HEADERS} headers are allowed, not ${entries.length}`,
    );
  }
  // HTTP header names are case-insensitive: two spellings of one would be sent as one header,
  // with whichever value came last.
  const seen = new Set<string>();
  for (const [name, value] of entries) {
    if (!HEADER_NAME.test(name))
      throw new InvalidHeaderError(`"${name}" is not a valid header name`);
    if (seen.has(name.toLowerCase()))
      throw new InvalidHeaderError(
        `the header ${name} is given twice (header names are the same in any case)`,
      );
    seen.add(name.toLowerCase());
    if (isReservedHeaderName(name))
      throw new InvalidHeaderError(`the header ${name} is set by Herald`);
    if (
      typeof value !== 'string' ||
      !HEADER_VALUE.test(value) ||
      value.length > MAX_HEADER_VALUE_LENGTH
    ) {
      throw new InvalidHeaderError(
        `the value of header ${name} must be text of at most ${MAX_HEADER_VALUE_LENGTH} characters without line breaks`,
      );
    }
  }
}

/** The `authorization` header value for `auth`. */
export function authorizationHeader(auth: WebhookAuth): string {
  switch (auth.type) {
    case 'bearer':
      return `Bearer ${auth.token}`;
    case 'basic':
      return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
  }
}

export function heraldUserAgent(version: string): string {
  return `Herald/${version}`;
}

// What a subscription's request carries every time, worked out once per stored value: the
// index hands the engine the same objects until the subscription changes.
const customHeaders = new WeakMap<Readonly<Record<string, string>>, [string, string][]>();
const authorizations = new WeakMap<WebhookAuth, string>();

/** The subscriber's headers that may be sent, lower-cased (checked once per headers object). */
function sendableHeaders(headers: Readonly<Record<string, string>>): [string, string][] {
  let sendable = customHeaders.get(headers);
  if (sendable === undefined) {
    sendable = [];
    for (const [name, value] of Object.entries(headers)) {
      // Stored headers were checked at registration; skipping here guards against older records.
      if (HEADER_NAME.test(name) && HEADER_VALUE.test(value) && !isReservedHeaderName(name))
        sendable.push([name.toLowerCase(), value]);
    }
    customHeaders.set(headers, sendable);
  }
  return sendable;
}

function cachedAuthorization(auth: WebhookAuth): string {
  let value = authorizations.get(auth);
  if (value === undefined) {
    value = authorizationHeader(auth);
    authorizations.set(auth, value);
  }
  return value;
}

/**
 * The full POST for one attempt: body in the subscription's format, Standard Webhooks headers
 * signed with every live secret, Herald's own headers (`accept-encoding: identity` among them:
 * the delivery log keeps the response body as text), then the subscriber's headers and auth
 * underneath them. `webhook-id` is the event id (see webhookIdOf), so a retry or duplicate
 * carries the same one.
 */
export function buildWebhookRequest(input: WebhookRequestInput): WebhookRequest {
  const { event, subscription } = input;
  const { body, contentType } = buildWebhookBody(event, subscription.format);
  const timestamp = webhookTimestamp(input.nowMs);
  const headers: Record<string, string> = {};
  if (subscription.headers)
    for (const [name, value] of sendableHeaders(subscription.headers)) headers[name] = value;
  if (subscription.auth) headers['authorization'] = cachedAuthorization(subscription.auth);
  headers['content-type'] = contentType;
  headers['user-agent'] = heraldUserAgent(input.version);
  headers['accept-encoding'] = 'identity';
  const id = webhookIdOf(event.id);
  headers['webhook-id'] = id;
  headers['webhook-timestamp'] = String(timestamp);
  headers['webhook-signature'] = webhookSignatureHeader(
    { id, timestamp, body },
    subscription.secrets,
  );
  headers['herald-subscription'] = subscription.id;
  headers['herald-attempt'] = String(input.attempt);
  if (input.replay) headers['herald-replay'] = 'true';
  // A producer's malformed trace context is not passed on: it could not be sent at all.
  const traceparent = input.traceparent ?? event.traceparent;
  if (traceparent !== undefined && isTraceparent(traceparent)) headers['traceparent'] = traceparent;
  return { url: subscription.url, method: 'POST', headers, body };
}
