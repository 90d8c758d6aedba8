import { Webhook } from 'standardwebhooks';
import { InvalidHeaderError } from './delivery.errors';
import type { DeliveryEvent } from './webhook-body';
import {
  buildWebhookRequest,
  checkSubscriptionHeaders,
  isReservedHeaderName,
  webhookIdOf,
  type WebhookTarget,
} from './webhook-request';
import { generateSecret } from './webhook-signature';

const event: DeliveryEvent = {
  id: 'evt-7',
  type: 'order.created',
  source: 'urn:herald:orders',
  time: '2025-03-01T12:00:00.000Z',
  data: { orderId: 'o-7' },
};
const secret = generateSecret();
const subscription: WebhookTarget = {
  id: 'sub-1',
  url: 'https://partner.example/hooks',
  format: 'standard',
  secrets: [secret],
};
const nowMs = Date.now();

describe('buildWebhookRequest', () => {
  it('sets the Standard Webhooks and Herald headers and a verifiable signature', () => {
    const request = buildWebhookRequest({
      event,
      subscription,
      attempt: 1,
      nowMs,
      version: '1.2.3',
    });
    expect(request).toMatchObject({ url: 'https://partner.example/hooks', method: 'POST' });
    expect(request.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'Herald/1.2.3',
      'accept-encoding': 'identity',
      'webhook-id': 'evt-7',
      'webhook-timestamp': String(Math.floor(nowMs / 1000)),
      'webhook-signature': expect.stringMatching(/^v1,[A-Za-z0-9+/]+=*$/) as string,
      'herald-subscription': 'sub-1',
      'herald-attempt': '1',
    });
    expect(new Webhook(secret).verify(request.body, request.headers)).toEqual(
      JSON.parse(request.body),
    );
  });

  it('keeps webhook-id across retries and re-signs each attempt', () => {
    const first = buildWebhookRequest({ event, subscription, attempt: 1, nowMs, version: '1' });
    const third = buildWebhookRequest({
      event,
      subscription,
      attempt: 3,
      nowMs: nowMs + 65_000,
      version: '1',
    });
    expect(third.headers['webhook-id']).toBe(first.headers['webhook-id']);
    expect(third.headers['herald-attempt']).toBe('3');
    expect(third.headers['webhook-signature']).not.toBe(first.headers['webhook-signature']);
    expect(third.body).toBe(first.body);
  });

  it('carries any event id in webhook-id, percent-encoded where a header cannot carry it, signed as sent', () => {
    const ids = {
      'заказ-1': '%D0%B7%D0%B0%D0%BA%D0%B0%D0%B7-1',
      'a b\r\nX-Injected: 1': 'a%20b%0D%0AX-Injected:%201',
      ' padded ': '%20padded%20',
      '100%': '100%25',
      é: '%C3%A9',
      'evt_01H:x/y~z': 'evt_01H:x/y~z',
    };
    for (const [id, header] of Object.entries(ids)) {
      expect(webhookIdOf(id)).toBe(header);
      expect(decodeURIComponent(webhookIdOf(id))).toBe(id);
      const request = buildWebhookRequest({
        event: { ...event, id },
        subscription: { ...subscription, format: 'cloudevents' },
        attempt: 1,
        nowMs,
        version: '1',
      });
      expect(request.headers['webhook-id']).toBe(header);
      // The receiver verifies with the header it got; the body keeps the event's own id.
      expect(new Webhook(secret).verify(request.body, request.headers)).toMatchObject({ id });
    }
  });

  it('passes a well-formed traceparent on and drops one HTTP could not carry', () => {
    const good = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const sent = (traceparent: string) =>
      buildWebhookRequest({
        event: { ...event, traceparent },
        subscription,
        attempt: 1,
        nowMs,
        version: '1',
      }).headers['traceparent'];
    expect(sent(good)).toBe(good);
    for (const bad of ['00-abc\r\nX-Injected: 1', 'not a trace', `${good} `, 'трасса'])
      expect(sent(bad)).toBeUndefined();
  });

  it('signs with both secrets during a rotation', () => {
    const next = generateSecret();
    const request = buildWebhookRequest({
      event,
      subscription: { ...subscription, secrets: [next, secret] },
      attempt: 1,
      nowMs,
      version: '1',
    });
    expect(request.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
    expect(() => new Webhook(next).verify(request.body, request.headers)).not.toThrow();
  });

  it('marks replays and forwards the trace context', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const request = buildWebhookRequest({
      event: { ...event, traceparent },
      subscription,
      attempt: 1,
      replay: true,
      nowMs,
      version: '1',
    });
    expect(request.headers['herald-replay']).toBe('true');
    expect(request.headers['traceparent']).toBe(traceparent);
    expect(
      buildWebhookRequest({ event, subscription, attempt: 1, nowMs, version: '1' }).headers,
    ).not.toHaveProperty('herald-replay');
  });

  it('adds the subscription headers but never lets them override Herald headers', () => {
    const request = buildWebhookRequest({
      event,
      subscription: {
        ...subscription,
        format: 'cloudevents',
        headers: {
          'X-Partner-Tenant': 'acme',
          'Webhook-Id': 'forged',
          'WEBHOOK-SIGNATURE': 'v1,forged',
          'Herald-Attempt': '99',
          'Content-Type': 'text/plain',
          'User-Agent': 'curl',
          'Accept-Encoding': 'gzip, br',
          Host: 'internal',
          'Bad Name': 'x',
          'x-split': 'a\r\nInjected: yes',
        },
      },
      attempt: 2,
      nowMs,
      version: '1',
    });
    expect(request.headers['x-partner-tenant']).toBe('acme');
    expect(request.headers['webhook-id']).toBe('evt-7');
    expect(request.headers['herald-attempt']).toBe('2');
    expect(request.headers['content-type']).toBe('application/cloudevents+json');
    expect(request.headers['user-agent']).toBe('Herald/1');
    expect(request.headers['accept-encoding']).toBe('identity');
    for (const name of ['Accept-Encoding', 'host', 'Host', 'bad name', 'Bad Name', 'x-split']) {
      expect(request.headers).not.toHaveProperty([name]);
    }
    expect(() => new Webhook(secret).verify(request.body, request.headers)).not.toThrow();
  });

  it.each([
    [{ type: 'bearer', token: 'tok-123' } as const, 'Bearer tok-123'],
    [
      { type: 'basic', username: 'herald', password: 'pä:ss' } as const,
      `Basic ${Buffer.from('herald:pä:ss').toString('base64')}`,
    ],
  ])('sends %j auth as %s, over any authorization header of its own', (auth, expected) => {
    const request = buildWebhookRequest({
      event,
      subscription: { ...subscription, auth, headers: { Authorization: 'Token custom' } },
      attempt: 1,
      nowMs,
      version: '1',
    });
    expect(request.headers['authorization']).toBe(expected);
  });

  it('passes a custom authorization header when no auth is configured', () => {
    const request = buildWebhookRequest({
      event,
      subscription: { ...subscription, headers: { Authorization: 'Token custom' } },
      attempt: 1,
      nowMs,
      version: '1',
    });
    expect(request.headers['authorization']).toBe('Token custom');
  });
});

describe('checkSubscriptionHeaders', () => {
  it('accepts ordinary headers', () => {
    expect(() =>
      checkSubscriptionHeaders({ 'X-Api-Version': '2', Authorization: 'Token t' }),
    ).not.toThrow();
  });

  it.each([
    [{ 'webhook-id': 'x' }, 'the header webhook-id is set by Herald'],
    [{ 'Herald-Replay': 'true' }, 'the header Herald-Replay is set by Herald'],
    [{ 'Content-Length': '1' }, 'set by Herald'],
    // The delivery log keeps the response body as text, so Herald asks for it uncompressed.
    [{ 'Accept-Encoding': 'gzip' }, 'the header Accept-Encoding is set by Herald'],
    [{ 'bad name': 'x' }, '"bad name" is not a valid header name'],
    [{ 'x-a': 'line\nbreak' }, 'without line breaks'],
    [{ 'x-a': 'a'.repeat(4097) }, 'at most 4096 characters'],
    // One header under two spellings: which value would be sent is not the partner's choice.
    [{ 'X-Tenant': 'a', 'x-tenant': 'b' }, 'the header x-tenant is given twice'],
    [
      Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`x-${i}`, 'v'])),
      'at most 32 headers',
    ],
  ])('refuses %j', (headers, message) => {
    expect(() => checkSubscriptionHeaders(headers)).toThrow(InvalidHeaderError);
    expect(() => checkSubscriptionHeaders(headers)).toThrow(message);
  });

  it('treats reserved names case-insensitively', () => {
    expect(isReservedHeaderName('TraceParent')).toBe(true);
    expect(isReservedHeaderName('Authorization')).toBe(false);
  });
});
