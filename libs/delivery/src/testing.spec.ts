import { createAddressPolicy } from './address-policy';
import { decide } from './retry-policy';
import { startWebhookReceiver, type WebhookReceiver } from './testing';
import { WebhookClient } from './webhook-client';
import { buildWebhookRequest } from './webhook-request';
import { generateSecret } from './webhook-signature';

describe('startWebhookReceiver', () => {
  const secret = generateSecret();
  let receiver: WebhookReceiver;
  let client: WebhookClient;

  beforeEach(async () => {
    receiver = await startWebhookReceiver({ secrets: [secret] });
    client = new WebhookClient({
      policy: createAddressPolicy(['127.0.0.0/8']),
      requestTimeoutMs: 500,
    });
  });
  afterEach(async () => {
    await client.close();
    await receiver.close();
  });

  const request = (attempt: number, secrets = [secret]) =>
    buildWebhookRequest({
      event: {
        id: `evt-${attempt}`,
        type: 'order.created',
        source: '/t',
        time: new Date().toISOString(),
        data: {},
      },
      subscription: { id: 'sub', url: `${receiver.url}/in`, format: 'standard', secrets },
      attempt,
      nowMs: Date.now(),
      version: 'test',
    });

  it('records requests, checks signatures and waits for a count', async () => {
    const waiting = receiver.waitFor(2);
    await client.send(request(1));
    await client.send(request(2, [generateSecret()]));
    const received = await waiting;
    expect(received.map((r) => [r.path, r.headers['webhook-id'], r.signatureValid])).toEqual([
      ['/in', 'evt-1', true],
      ['/in', 'evt-2', false],
    ]);
  });

  it('answers as told, including never', async () => {
    receiver.respondWith((r) =>
      r.headers['herald-attempt'] === '1'
        ? { status: 503, headers: { 'retry-after': '7' } }
        : 'hang',
    );
    await expect(client.send(request(1))).resolves.toMatchObject({
      status: 503,
      headers: { 'retry-after': '7' },
    });
    await expect(client.send(request(2))).resolves.toMatchObject({
      kind: 'error',
      error: 'timeout',
    });
  });

  it('feeds client results straight into the retry policy', async () => {
    receiver.respondWith(() => ({ status: 503, headers: { 'retry-after': '7' } }));
    const unavailable = await client.send(request(1));
    expect(decide(unavailable, 1, [2000, 4000], () => 0.5)).toEqual({
      action: 'retry',
      delayMs: 4000,
      reason: 'HTTP 503',
    });
    receiver.respondWith(() => ({ status: 410 }));
    expect(decide(await client.send(request(2)), 2, [2000, 4000])).toMatchObject({
      action: 'disable',
    });
    receiver.respondWith(() => ({ status: 200 }));
    expect(decide(await client.send(request(3)), 3, [2000, 4000])).toEqual({ action: 'success' });
  });

  it('rejects waitFor when the requests do not come in time', async () => {
    await expect(receiver.waitFor(1, 50)).rejects.toThrow(
      'expected 1 webhook requests within 50 ms, got 0',
    );
  });
});
