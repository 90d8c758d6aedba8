import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import { ApiKeyRepository, RedisConnection, type IdempotencyStore } from '@herald/store';
import { queuedCommands } from '@herald/store/testing';
import {
  collect,
  createTestConnection,
  createTestTopic,
  startBrokerProcess,
  startTestBroker,
  waitFor,
  type RunningBroker,
} from '@herald/kafka/testing';
import { KafkaPublisher, KafkaUnavailableError } from '@herald/kafka';
import { startRedisServer } from '@herald/test-harness';
import { INGEST_IDEMPOTENCY } from '../src/ingest/ingest.tokens';
import { ADMIN_KEY, post, startIngestApp, topicSize, type IngestApp } from './ingest-app.fixture';

// Tests run in order and share one broker and app; each test uses its own event ids.
jest.setTimeout(60_000);

let broker: RunningBroker;
let ingest: IngestApp;
let example: Record<string, unknown>;

function orderCreated(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...example, orderId: crypto.randomUUID(), ...overrides };
}

/** `count` structured order.created events of about 50 KiB each, all of one order (one key). */
function bigOrderBatch(prefix: string, count: number): Record<string, unknown>[] {
  const orderId = crypto.randomUUID();
  const items = Array.from({ length: 200 }, (_, i) => ({
    sku: `SKU-${i}`,
    name: 'n'.repeat(200),
    quantity: 1,
    unitPrice: (example.items as { unitPrice: unknown }[])[0]!.unitPrice,
  }));
  return Array.from({ length: count }, (_, i) => ({
    specversion: '1.0',
    id: `${prefix}-${orderId}-${i}`,
    source: '/big',
    type: 'order.created',
    data: orderCreated({ orderId, items }),
  }));
}

beforeAll(async () => {
  broker = await startTestBroker();
  ingest = await startIngestApp(broker.brokers);
  example = ingest.contract.get('order.created')!.example as Record<string, unknown>;
});

afterAll(async () => {
  await ingest?.stop();
  await broker?.stop();
});

describe('accepted forms', () => {
  it('typed POST lands on the channel topic with the contract key and CloudEvents headers', async () => {
    const payload = orderCreated();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const response = await post(`${ingest.url}/v1/events/order.created`, payload, {
      headers: { 'ce-id': 'typed-1', 'ce-source': '/checkout', traceparent },
    });
    expect(response.status).toBe(202);
    expect(response.body).toEqual({
      id: 'typed-1',
      type: 'order.created',
      topic: 'orders.v1',
      partition: expect.any(Number),
      offset: expect.any(String),
    });

    const records = await collect(
      broker.brokers,
      'orders.v1',
      Number((response.body as { offset: string }).offset) + 1,
    );
    const record = records.find((r) => r.headers.ce_id?.toString() === 'typed-1')!;
    expect(record.key?.toString()).toBe(payload.orderId);
    expect(record.partition).toBe((response.body as { partition: number }).partition);
    const message: KafkaMessage = {
      key: record.key?.toString() ?? '',
      value: record.value!,
      headers: Object.fromEntries(
        Object.entries(record.headers).map(([k, v]) => [k, v?.toString()]),
      ),
      body: record.value!,
      timestamp: record.timestamp,
    };
    const event = CloudEventsKafka.toEvent(message) as unknown as Record<string, unknown>;
    expect(event).toMatchObject({
      specversion: '1.0',
      id: 'typed-1',
      type: 'order.created',
      source: '/checkout',
    });
    expect(record.headers.traceparent?.toString()).toBe(traceparent);
    expect(event.data).toEqual(payload);
  });

  it('structured, binary and batch CloudEvents are each written', async () => {
    const structured = await post(
      `${ingest.url}/v1/events`,
      {
        specversion: '1.0',
        id: 'structured-1',
        source: '/s',
        type: 'order.created',
        time: '2026-01-02T03:04:05Z',
        dataschema: 'https://schemas.acme.test/orders/created/1',
        datacontenttype: 'application/json; charset=utf-8',
        data: orderCreated(),
      },
      { contentType: 'application/cloudevents+json' },
    );
    expect(structured.status).toBe(202);

    const binary = await post(`${ingest.url}/v1/events`, orderCreated(), {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'binary-1',
        'ce-source': '/b',
        'ce-type': 'order.created',
        'ce-region': 'eu',
        'ce-dataschema': 'https://schemas.acme.test/orders/created/1',
      },
      contentType: 'application/vnd.acme.order+json',
    });
    expect(binary.status).toBe(202);

    const batch = await post(
      `${ingest.url}/v1/events`,
      [0, 1, 2].map((i) => ({
        specversion: '1.0',
        id: `batch-${i}`,
        source: '/b',
        type: 'order.created',
        data: orderCreated(),
      })),
      { contentType: 'application/cloudevents-batch+json' },
    );
    expect(batch.status).toBe(202);
    expect((batch.body as { id: string }[]).map((r) => r.id)).toEqual([
      'batch-0',
      'batch-1',
      'batch-2',
    ]);

    const ids = new Set(['structured-1', 'binary-1', 'batch-0', 'batch-1', 'batch-2']);
    const found = await waitFor(async () => {
      const records = await collect(
        broker.brokers,
        'orders.v1',
        await topicSize(broker.brokers, 'orders.v1'),
      );
      const mine = records.filter((r) => ids.has(r.headers.ce_id?.toString() ?? ''));
      return mine.length === ids.size ? mine : undefined;
    });
    const binaryRecord = found.find((r) => r.headers.ce_id?.toString() === 'binary-1')!;
    expect(binaryRecord.headers.ce_region?.toString()).toBe('eu');
    // The producer's data schema and content type go along, as the bridge carries them.
    expect(binaryRecord.headers.ce_dataschema?.toString()).toBe(
      'https://schemas.acme.test/orders/created/1',
    );
    expect(binaryRecord.headers['content-type']?.toString()).toBe(
      'application/vnd.acme.order+json',
    );
    const structuredRecord = found.find((r) => r.headers.ce_id?.toString() === 'structured-1')!;
    expect(structuredRecord.headers.ce_time?.toString()).toBe('2026-01-02T03:04:05Z');
    expect(structuredRecord.headers.ce_dataschema?.toString()).toBe(
      'https://schemas.acme.test/orders/created/1',
    );
    expect(structuredRecord.headers['content-type']?.toString()).toBe(
      'application/json; charset=utf-8',
    );
    const batchRecord = found.find((r) => r.headers.ce_id?.toString() === 'batch-0')!;
    expect(batchRecord.headers.ce_dataschema).toBeUndefined();
    expect(batchRecord.headers['content-type']?.toString()).toBe('application/json');
  });

  it('binary mode takes ce-traceparent as the trace context, and refuses a malformed one with 400', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const binary = (id: string, value: string) =>
      post(`${ingest.url}/v1/events`, orderCreated(), {
        headers: {
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-source': '/b',
          'ce-type': 'order.created',
          'ce-traceparent': value,
        },
      });
    const accepted = await binary('binary-traced-1', traceparent);
    expect(accepted.status).toBe(202);
    const records = await collect(
      broker.brokers,
      'orders.v1',
      await topicSize(broker.brokers, 'orders.v1'),
    );
    const record = records.find((r) => r.headers.ce_id?.toString() === 'binary-traced-1')!;
    expect(record.headers.traceparent?.toString()).toBe(traceparent);
    expect(record.headers.ce_traceparent).toBeUndefined();

    const refused = await binary('binary-traced-2', 'not-a-trace');
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      code: 'ingest.invalid',
      errors: [{ pointer: '/headers/ce-traceparent' }],
    });
  });

  it('herald-key overrides the partition key', async () => {
    const response = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'herald-key': 'customer-42', 'ce-id': 'keyed-1' },
    });
    expect(response.status).toBe(202);
    const records = await collect(
      broker.brokers,
      'orders.v1',
      await topicSize(broker.brokers, 'orders.v1'),
    );
    expect(records.find((r) => r.headers.ce_id?.toString() === 'keyed-1')?.key?.toString()).toBe(
      'customer-42',
    );
  });
});

describe('idempotency and all-or-nothing', () => {
  it('a repeated event id answers 200 with the first result and writes nothing', async () => {
    const first = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'idempotency-key': 'same-id' },
    });
    expect(first.status).toBe(202);
    const before = await topicSize(broker.brokers, 'orders.v1');
    const again = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'idempotency-key': 'same-id' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
  });

  it('an id already used for another event type is refused (422), not answered with that event', async () => {
    const first = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'idempotency-key': 'reused-id' },
    });
    expect(first.status).toBe(202);
    const orders = await topicSize(broker.brokers, 'orders.v1');
    const payments = await topicSize(broker.brokers, 'payments.v1');
    const payment = ingest.contract.get('payment.captured')!.example;
    const other = await post(`${ingest.url}/v1/events/payment.captured`, payment, {
      headers: { 'idempotency-key': 'reused-id' },
    });
    expect(other.status).toBe(422);
    expect(other.body).toMatchObject({
      code: 'ingest.id_reuse_unprocessable',
      eventId: 'reused-id',
      eventType: 'payment.captured',
      firstEventType: 'order.created',
    });
    // One request with one id for two types: refused whole, nothing written.
    const batch = await post(
      `${ingest.url}/v1/events`,
      [
        { type: 'order.created', data: orderCreated() },
        { type: 'payment.captured', data: payment },
      ].map((event) => ({ specversion: '1.0', id: 'twice-in-batch', source: '/b', ...event })),
      { contentType: 'application/cloudevents-batch+json' },
    );
    expect(batch.status).toBe(422);
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(orders);
    expect(await topicSize(broker.brokers, 'payments.v1')).toBe(payments);
    // The same type again is still a retry.
    const retry = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'idempotency-key': 'reused-id' },
    });
    expect(retry.status).toBe(200);
  });

  it('an event written whose result Redis then fails to record is answered 202 and not written twice', async () => {
    // Redis refuses the record of the result (as a replica turned read-only would), twice.
    const store = ingest.app.get<IdempotencyStore<unknown>>(INGEST_IDEMPOTENCY);
    const failing = jest
      .spyOn(store, 'completeAll')
      .mockRejectedValueOnce(new Error('READONLY You can’t write against a read only replica.'))
      .mockRejectedValueOnce(new Error('READONLY You can’t write against a read only replica.'));
    try {
      const before = await topicSize(broker.brokers, 'orders.v1');
      const first = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
        headers: { 'idempotency-key': 'unrecorded-id' },
      });
      expect(first.status).toBe(202);
      expect(failing).toHaveBeenCalledTimes(2);
      // The id stays reserved: a retry is told the write is under way, and writes nothing.
      const again = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
        headers: { 'idempotency-key': 'unrecorded-id' },
      });
      expect(again.status).toBe(409);
      expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 1);
    } finally {
      failing.mockRestore();
    }
  });

  it('a batch bigger than one Kafka request takes is written in parts, in order', async () => {
    // 25 events of about 50 KiB with one key: 1.25 MiB for one partition, over Kafka's 1 MiB
    // batch limit (one request refused it as MESSAGE_TOO_LARGE), well under the 5 MiB a request.
    const big = bigOrderBatch('parts', 25);
    const response = await post(`${ingest.url}/v1/events`, big, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(response.status).toBe(202);
    const results = response.body as { id: string; partition: number; offset: string }[];
    expect(results.map((r) => r.id)).toEqual(big.map((e) => e.id));
    expect(new Set(results.map((r) => r.partition)).size).toBe(1);
    const offsets = results.map((r) => Number(r.offset));
    expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i));
  });

  it('a batch whose later part fails says how much was written, and a retry writes the rest once', async () => {
    // Kafka fails the second part of the request (fault injection on the publisher).
    const publisher = ingest.app.get(KafkaPublisher);
    const real = publisher.publish.bind(publisher);
    let calls = 0;
    const failing = jest.spyOn(publisher, 'publish').mockImplementation((records, options) => {
      calls += 1;
      return calls === 2
        ? Promise.reject(new KafkaUnavailableError('Kafka could not take the write'))
        : real(records, options);
    });
    const big = bigOrderBatch('partial', 25);
    const before = await topicSize(broker.brokers, 'orders.v1');
    let first;
    try {
      first = await post(`${ingest.url}/v1/events`, big, {
        contentType: 'application/cloudevents-batch+json',
      });
    } finally {
      failing.mockRestore();
    }
    expect(first.status).toBe(503);
    expect((first.body as { detail: string }).detail).toMatch(/took \d+ of the 25 events/);
    const written = Number(/took (\d+)/.exec((first.body as { detail: string }).detail)![1]);
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(25);
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + written);

    const again = await post(`${ingest.url}/v1/events`, big, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(again.status).toBe(202);
    const results = again.body as { id: string; offset: string }[];
    expect(results.map((r) => r.id)).toEqual(big.map((e) => e.id));
    // Every event once: the written ones answered with their first result, the rest written.
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 25);
    const offsets = results.map((r) => Number(r.offset));
    expect(offsets).toEqual(offsets.map((_, i) => offsets[0]! + i));
  });

  it('a batch with one invalid event is refused whole, naming the field', async () => {
    const before = await topicSize(broker.brokers, 'orders.v1');
    const events = [0, 1, 2].map((i) => ({
      specversion: '1.0',
      id: `bad-batch-${i}`,
      source: '/b',
      type: 'order.created',
      data: orderCreated(),
    }));
    events[1]!.data.orderId = 'not-a-uuid';
    const response = await post(`${ingest.url}/v1/events`, events, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect((response.body as { errors: unknown[] }).errors).toEqual([
      { pointer: '/1/data/orderId', message: expect.stringContaining('uuid') },
    ]);
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
    // Nothing was reserved either: the same ids go through once fixed.
    events[1]!.data.orderId = crypto.randomUUID();
    expect(
      (
        await post(`${ingest.url}/v1/events`, events, {
          contentType: 'application/cloudevents-batch+json',
        })
      ).status,
    ).toBe(202);
  });
});

describe('bad input', () => {
  const typed = () => `${ingest.url}/v1/events/order.created`;

  it('counts requests refused before their events are read in herald_ingest_events_total', async () => {
    const count = async (labels: string) => {
      const text = await (await fetch(`${ingest.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith(`herald_ingest_events_total{${labels},`));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    const invalid = 'type="order.created",outcome="invalid"';
    const media = 'type="unknown",outcome="unsupported_media_type"';
    const [invalidBefore, mediaBefore] = [await count(invalid), await count(media)];
    expect((await post(typed(), '{"orderId": ')).status).toBe(400);
    expect(
      (await post(`${ingest.url}/v1/events`, 'hello', { contentType: 'text/plain' })).status,
    ).toBe(415);
    expect(await count(invalid)).toBe(invalidBefore + 1);
    expect(await count(media)).toBe(mediaBefore + 1);
  });

  it.each([
    ['malformed JSON', () => post(typed(), '{"orderId": '), 400, 'ingest.invalid'],
    ['an empty body', () => post(typed(), ''), 400, 'ingest.invalid'],
    [
      'a wrong content type',
      () => post(typed(), 'hello', { contentType: 'text/plain' }),
      415,
      'ingest.unsupported_media_type',
    ],
    [
      'an unparseable content type',
      () => post(typed(), 'hello', { contentType: 'image/png' }),
      415,
      'http.unsupported_media_type',
    ],
    [
      'a CloudEvent content type on the typed route',
      () => post(typed(), {}, { contentType: 'application/cloudevents+json' }),
      415,
      'ingest.unsupported_media_type',
    ],
    [
      'no content type and no ce headers',
      () => post(`${ingest.url}/v1/events`, { a: 1 }),
      415,
      'ingest.unsupported_media_type',
    ],
    [
      'an unknown type',
      () => post(`${ingest.url}/v1/events/order.teleported`, {}),
      404,
      'ingest.type_not_found',
    ],
    [
      "one of Herald's own types",
      () => post(`${ingest.url}/v1/events/herald.ping`, {}),
      403,
      'ingest.forbidden',
    ],
    [
      'a bad ce-time header',
      () => post(typed(), orderCreated(), { headers: { 'ce-time': 'yesterday' } }),
      400,
      'ingest.invalid',
    ],
    [
      'a bad traceparent',
      () => post(typed(), orderCreated(), { headers: { traceparent: 'nope' } }),
      400,
      'ingest.invalid',
    ],
    [
      'a structured event without an id',
      () =>
        post(
          `${ingest.url}/v1/events`,
          { specversion: '1.0', source: '/s', type: 'order.created', data: {} },
          { contentType: 'application/cloudevents+json' },
        ),
      400,
      'ingest.invalid',
    ],
    [
      'a batch that is not an array',
      () =>
        post(
          `${ingest.url}/v1/events`,
          { not: 'an array' },
          { contentType: 'application/cloudevents-batch+json' },
        ),
      400,
      'ingest.invalid',
    ],
    ['no key', () => post(typed(), orderCreated(), { key: null }), 401, 'auth.unauthenticated'],
    [
      'a wrong key',
      () => post(typed(), orderCreated(), { key: 'hk_0123456789abcdef_' + 'x'.repeat(43) }),
      401,
      'auth.unauthenticated',
    ],
  ])('%s is refused', async (_name, send, status, code) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ status, code });
  });

  it('an unknown type is named in the problem as eventType, its type the problem type', async () => {
    const response = await post(`${ingest.url}/v1/events/order.teleported`, {});
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({
      type: 'urn:herald:problem:ingest.type_not_found',
      code: 'ingest.type_not_found',
      eventType: 'order.teleported',
    });
    const structured = await post(
      `${ingest.url}/v1/events`,
      { specversion: '1.0', id: 'teleported-1', source: '/s', type: 'order.beamed', data: {} },
      { contentType: 'application/cloudevents+json' },
    );
    expect(structured.status).toBe(404);
    expect(structured.body).toMatchObject({
      type: 'urn:herald:problem:ingest.type_not_found',
      eventType: 'order.beamed',
    });
  });

  it('a body that is not UTF-8 is refused with 400 naming the byte, not written with U+FFFD', async () => {
    const before = await topicSize(broker.brokers, 'orders.v1');
    // An item named Zoë: valid but for its encoding.
    const payload = orderCreated();
    const items = (payload.items as Record<string, unknown>[]).map((item, i) =>
      i === 0 ? { ...item, name: 'Zoë' } : item,
    );
    const json = JSON.stringify({ ...payload, items });
    const at = json.indexOf('Zo') + 2;
    // ë in Latin-1 (0xEB), as a producer that never encoded its text would send it.
    const latin1 = Buffer.from(json, 'latin1');
    expect(latin1[at]).toBe(0xeb);
    const typedResponse = await post(typed(), latin1, { headers: { 'ce-id': 'latin1-typed' } });
    expect(typedResponse.status).toBe(400);
    expect(typedResponse.body).toMatchObject({
      code: 'ingest.invalid',
      detail: 'The request body is not valid UTF-8',
      errors: [{ pointer: '', message: `invalid UTF-8 at byte ${at}` }],
    });
    const batch = Buffer.concat([
      Buffer.from(
        '[{"specversion":"1.0","id":"latin1-batch","source":"/b","type":"order.created","data":',
      ),
      latin1,
      Buffer.from('}]'),
    ]);
    const batchResponse = await post(`${ingest.url}/v1/events`, batch, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(batchResponse.status).toBe(400);
    expect(batchResponse.body).toMatchObject({ detail: 'The request body is not valid UTF-8' });
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
  });

  it('a schema violation names each field by JSON pointer', async () => {
    const payload = orderCreated();
    delete payload.customer;
    (payload.total as Record<string, unknown>) = { amount: 'lots', currency: 'EUR' };
    const response = await post(typed(), payload);
    expect(response.status).toBe(400);
    expect(
      (response.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer).sort(),
    ).toEqual(['/customer', '/total/amount']);
  });

  it('a request breaking its schemas thousands of times lists the first 100 and stops validating there', async () => {
    // 500 properties the schema does not allow in each of three events: 1,500 violations.
    const extra = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`x${i}`, i]));
    const events = [0, 1, 2].map((i) => ({
      specversion: '1.0',
      id: `many-violations-${i}`,
      source: '/b',
      type: 'order.created',
      data: orderCreated(extra),
    }));
    const validate = jest.spyOn(ingest.contract, 'validate');
    let response;
    let validated;
    try {
      response = await post(`${ingest.url}/v1/events`, events, {
        contentType: 'application/cloudevents-batch+json',
      });
    } finally {
      validated = validate.mock.calls.length;
      validate.mockRestore();
    }
    expect(response.status).toBe(400);
    const problem = response.body as {
      code: string;
      errors: { pointer: string; message: string }[];
      errorCount: number;
      errorCountIsLowerBound?: boolean;
    };
    expect(problem.code).toBe('ingest.invalid');
    expect(problem.errors).toHaveLength(100);
    expect(problem.errors[0]).toEqual({ pointer: '/0/data/x0', message: 'is not allowed here' });
    expect(problem.errors[99]!.pointer).toBe('/0/data/x99');
    // The first event filled the list: the other two were not validated, and the count says so.
    expect(validated).toBe(1);
    expect(problem.errorCount).toBe(500);
    expect(problem.errorCountIsLowerBound).toBe(true);
  });

  it('an event breaking its schema on every value is answered with its first violation, counted as a lower bound', async () => {
    // 80,000 items missing their fields, in the 256 KiB an event may have: 240,000 violations.
    const data = orderCreated({ items: Array.from({ length: 80_000 }, () => ({})) });
    expect(JSON.stringify(data).length).toBeGreaterThan(200 * 1024);
    const validate = jest.spyOn(ingest.contract, 'validate');
    let response;
    let results;
    try {
      response = await post(typed(), data, { headers: { 'ce-id': 'hostile-1' } });
    } finally {
      results = validate.mock.results.map((r) => r.value as { errors?: unknown[] });
      validate.mockRestore();
    }
    expect(response.status).toBe(400);
    const problem = response.body as {
      errors: { pointer: string; message: string }[];
      errorCount: number;
      errorCountIsLowerBound?: boolean;
    };
    expect(problem.errors).toEqual([
      { pointer: '/items', message: 'must NOT have more than 200 items' },
    ]);
    expect(problem.errorCount).toBe(1);
    expect(problem.errorCountIsLowerBound).toBe(true);
    // The contract handed back only what it found before stopping, not 240,000 violations.
    expect(results.map((r) => r.errors?.length)).toEqual([1]);
  });

  it('a request whose violations fit the list counts them exactly', async () => {
    const events = [0, 1].map((i) => ({
      specversion: '1.0',
      id: `few-violations-${i}`,
      source: '/b',
      type: 'order.created',
      data: orderCreated({ unexpected: i }),
    }));
    const response = await post(`${ingest.url}/v1/events`, events, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(response.status).toBe(400);
    expect(response.body).not.toHaveProperty('errorCount');
    expect(response.body).not.toHaveProperty('errorCountIsLowerBound');
    expect((response.body as { errors: unknown[] }).errors).toHaveLength(2);
  });

  it('an event over 256 KiB → 413; a request over 5 MiB → 413; a batch over 1,000 → 413', async () => {
    const huge = orderCreated({ notes: 'x'.repeat(300 * 1024) });
    const tooLarge = await post(typed(), huge);
    expect(tooLarge.status).toBe(413);
    const body = await post(typed(), 'x'.repeat(6 * 1024 * 1024));
    expect(body.status).toBe(413);
    const many = Array.from({ length: 1001 }, (_, i) => ({
      specversion: '1.0',
      id: `many-${i}`,
      source: '/m',
      type: 'order.created',
      data: {},
    }));
    const batch = await post(`${ingest.url}/v1/events`, many, {
      contentType: 'application/cloudevents-batch+json',
    });
    expect(batch.status).toBe(413);
  });

  it('enforces events:publish and its type patterns', async () => {
    const keys = ingest.app.get(ApiKeyRepository);
    const reader = await keys.create({
      name: 'reader',
      tenant: 'acme',
      scopes: [{ scope: 'streams:read', types: null }],
    });
    const orders = await keys.create({
      name: 'orders',
      tenant: 'acme',
      scopes: [{ scope: 'events:publish', types: ['order.*'] }],
    });
    expect((await post(typed(), orderCreated(), { key: reader.key })).status).toBe(403);
    expect((await post(typed(), orderCreated(), { key: orders.key })).status).toBe(202);
    const payment = ingest.contract.get('payment.captured')!.example;
    const refused = await post(`${ingest.url}/v1/events/payment.captured`, payment, {
      key: orders.key,
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({
      code: 'ingest.forbidden',
      detail: expect.stringContaining('payment.captured'),
    });
  });

  it('keeps serving after all of that', async () => {
    expect((await post(typed(), orderCreated())).status).toBe(202);
    expect(ADMIN_KEY).toBeDefined();
  });
});

describe('a broker that is down', () => {
  it('answers 503 with Retry-After and writes nothing, then recovers', async () => {
    const isolated = await startTestBroker();
    const app = await startIngestApp(isolated.brokers);
    try {
      await createTestTopic(isolated.brokers, { partitions: 1 });
      expect((await post(`${app.url}/v1/events/order.created`, orderCreated())).status).toBe(202);
      await isolated.stop();
      const response = await post(`${app.url}/v1/events/order.created`, orderCreated(), {
        headers: { 'ce-id': 'during-outage' },
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(response.body).toMatchObject({ code: 'ingest.unavailable' });
    } finally {
      await app.stop();
    }
  });
});

describe('a write Kafka confirms only after its deadline', () => {
  it('keeps its ids reserved, answers 503 saying it may be written, and then the first result', async () => {
    // The broker as its own process, so it can be stopped (SIGSTOP) with a write in hand.
    const dir = mkdtempSync(join(tmpdir(), 'herald-stall-'));
    const broker = await startBrokerProcess(dir);
    const { brokers, child } = broker;
    let app: IngestApp | undefined;
    try {
      app = await startIngestApp(brokers, { KAFKA_PUBLISH_TIMEOUT_MS: '1500' });
      const send = () =>
        post(`${app!.url}/v1/events/order.created`, orderCreated(), {
          headers: { 'ce-id': 'stalled' },
        });
      expect((await post(`${app.url}/v1/events/order.created`, orderCreated())).status).toBe(202);

      child.kill('SIGSTOP');
      const stalled = await send();
      expect(stalled.status).toBe(503);
      expect(stalled.body).toMatchObject({ code: 'ingest.unavailable' });
      expect(JSON.stringify(stalled.body)).toContain('may still be written');
      // Still reserved while Kafka may write it: a retry writes nothing.
      expect((await send()).status).toBe(409);
      child.kill('SIGCONT');

      // kafkajs's retry lands the write; the id then answers its first result, once.
      const answered = await waitFor(
        async () => {
          const again = await send();
          return again.status === 200 && again;
        },
        { what: 'the id to answer its first result', timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(answered.body).toMatchObject({ id: 'stalled', topic: 'orders.v1' });
      const records = await collect(brokers, 'orders.v1', 2);
      expect(records.filter((r) => r.headers.ce_id?.toString() === 'stalled')).toHaveLength(1);
    } finally {
      child.kill('SIGCONT');
      await app?.stop();
      await broker.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a Redis that stops answering', () => {
  it('answers 503 with Retry-After after its deadline, writes nothing, and gives back what Redis took late', async () => {
    const redis = await startRedisServer();
    const app = await startIngestApp(broker.brokers, {
      REDIS_URL: redis.url,
      HERALD_INGEST_REDIS_TIMEOUT_MS: '500',
    });
    const send = (id: string, key = ADMIN_KEY) =>
      post(`${app.url}/v1/events/order.created`, orderCreated(), { key, headers: { 'ce-id': id } });
    try {
      const producer = await app.app.get(ApiKeyRepository).create({
        name: 'producer',
        tenant: 'acme',
        scopes: [{ scope: 'events:publish', types: null }],
      });
      expect((await send('redis-before')).status).toBe(202);
      const before = await topicSize(broker.brokers, 'orders.v1');

      // Stopped (SIGSTOP): the connection stays up and nothing answers, as in a network partition.
      process.kill(redis.pid, 'SIGSTOP');
      let stalled;
      let lookup;
      try {
        stalled = await send('redis-stalled');
        // A key that is neither the admin key nor cached is looked up in Redis.
        lookup = await send('redis-stalled-key', producer.key);
      } finally {
        process.kill(redis.pid, 'SIGCONT');
      }
      for (const response of [stalled, lookup]) {
        expect(response.status).toBe(503);
        expect(response.headers.get('retry-after')).toBe('5');
        expect(response.headers.get('content-type')).toContain('application/problem+json');
        expect(response.body).toMatchObject({
          code: 'ingest.unavailable',
          detail: expect.stringContaining('Redis'),
        });
      }
      expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
      // Redis took the reservation once it ran again, after the answer: it is given back, so the
      // same id goes through (a 409 at most while the release is on its way, and a 503 while the
      // circuit waits for ingest-bridge to read Redis's answer to its probe).
      // Each 503 there is one more reservation refused (counted below).
      let refusedWhileClosing = 0;
      await waitFor(
        async () => {
          const again = await send('redis-stalled');
          expect([202, 409, 503]).toContain(again.status);
          if (again.status === 503) refusedWhileClosing += 1;
          return again.status === 202;
        },
        { what: 'the stalled id to be written', intervalMs: 100 },
      );
      expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 1);

      // Gone: answered at once, nothing queued for when Redis returns.
      await redis.stop();
      const down = await send('redis-down');
      expect(down.status).toBe(503);
      expect(down.headers.get('retry-after')).toBe('5');
      expect(down.body).toMatchObject({ code: 'ingest.unavailable' });
      expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 1);
      // An event without an id needs no Redis (nor does the admin key): it is written all the same.
      expect((await post(`${app.url}/v1/events/order.created`, orderCreated())).status).toBe(202);
      expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 2);

      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      // Summed over the reasons (timeout while it hung, refused while it was gone).
      const counted = (operation: string) =>
        [
          ...metrics.matchAll(
            new RegExp(
              `^herald_ingest_redis_unavailable_total\\{[^}]*operation="${operation}"[^}]*\\} (\\d+)$`,
              'gm',
            ),
          ),
        ].reduce((sum, match) => sum + Number(match[1]), 0);
      expect(counted('reserve')).toBe(2 + refusedWhileClosing);
      expect(counted('authenticate')).toBe(1);
    } finally {
      await app.stop();
      await redis.stop();
    }
  });

  it('refuses events with ids at once while Redis hangs, leaving a handful of commands queued rather than one a request, and takes them again once Redis answers', async () => {
    const flood = 200;
    const redis = await startRedisServer();
    const app = await startIngestApp(broker.brokers, {
      REDIS_URL: redis.url,
      HERALD_INGEST_REDIS_TIMEOUT_MS: '500',
    });
    const client = app.app.get(RedisConnection);
    const send = (id: string) =>
      post(`${app.url}/v1/events/order.created`, orderCreated(), { headers: { 'ce-id': id } });
    try {
      expect((await send('flood-before')).status).toBe(202);
      process.kill(redis.pid, 'SIGSTOP');
      let first;
      let during: { statuses: number[]; ms: number; queued: number };
      try {
        // Its reservation is sent to Redis and misses its deadline.
        first = await send('flood-first');
        const started = Date.now();
        const answers = await Promise.all(
          Array.from({ length: flood }, (_, i) => send(`flood-${i}`)),
        );
        during = {
          statuses: [...new Set(answers.map((a) => a.status))],
          ms: Date.now() - started,
          queued: queuedCommands(client),
        };
      } finally {
        process.kill(redis.pid, 'SIGCONT');
      }
      const resumed = Date.now();
      let n = 0;
      await waitFor(async () => (await send(`flood-after-${n++}`)).status === 202, {
        what: 'an event with an id to be taken again',
      });
      const takenAfterMs = Date.now() - resumed;
      console.info(
        `ingest-bridge, Redis hung: ${flood} events answered in ${during.ms} ms, ${during.queued} commands queued in the client; taken again ${takenAfterMs} ms after SIGCONT`,
      );
      expect(first.status).toBe(503);
      // The reservation that missed its deadline and the circuit's probe (the old code: one a
      // request).
      expect(during.queued).toBeLessThanOrEqual(5);
      expect(during.statuses).toEqual([503]);
      expect(takenAfterMs).toBeLessThan(1000);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      const refused =
        /^herald_ingest_redis_unavailable_total\{[^}]*operation="reserve",reason="refused"[^}]*\} (\d+)$/m.exec(
          metrics,
        );
      expect(Number(refused?.[1])).toBeGreaterThanOrEqual(flood);
    } finally {
      process.kill(redis.pid, 'SIGCONT');
      await app.stop();
      await redis.stop();
    }
  });
});

describe('a write Kafka refuses while it carries another request', () => {
  it('refuses only the request whose records Kafka refuses; the other is written once and answered', async () => {
    // Kafka takes at most 32 KiB a partition batch: an order of 50 KiB is refused
    // (MESSAGE_TOO_LARGE) while a payment sent in the same Kafka request is appended.
    const small = await startTestBroker({ maxMessageBytes: 32 * 1024 });
    // A linger long enough that the two requests below share one Kafka request.
    const app = await startIngestApp(small.brokers, { KAFKA_LINGER_MS: '1000' });
    try {
      const order = bigOrderBatch('too-big', 1)[0]!;
      const payment = app.contract.get('payment.captured')!.example;
      const sendOrder = () =>
        post(`${app.url}/v1/events/order.created`, order.data, {
          headers: { 'ce-id': 'refused-order' },
        });
      const sendPayment = () =>
        post(`${app.url}/v1/events/payment.captured`, payment, {
          headers: { 'ce-id': 'innocent-payment' },
        });
      const [refused, accepted] = await Promise.all([sendOrder(), sendPayment()]);

      expect(accepted.status).toBe(202);
      expect(refused.status).toBe(400);
      expect(refused.body).toMatchObject({
        code: 'ingest.invalid',
        detail: 'Kafka refused the event; nothing was written',
        errors: [{ message: expect.stringContaining('MESSAGE_TOO_LARGE') }],
      });
      const result = accepted.body as {
        id: string;
        topic: string;
        partition: number;
        offset: string;
      };
      expect(result).toMatchObject({ id: 'innocent-payment' });
      // The answer names where the payment is.
      const records = await collect(small.brokers, result.topic, Number(result.offset) + 1);
      const at = records.find(
        (r) => r.partition === result.partition && r.offset === result.offset,
      );
      expect(at?.headers.ce_id?.toString()).toBe('innocent-payment');
      // Once: Kafka appended it in the shared write, and it was not written again.
      const admin = createTestConnection(small.brokers).kafka.admin();
      await admin.connect();
      const stored = (await admin.fetchTopicOffsets(result.topic)).reduce(
        (sum, p) => sum + Number(p.high) - Number(p.low),
        0,
      );
      await admin.disconnect();
      const all = await collect(small.brokers, result.topic, stored);
      expect(all.filter((r) => r.headers.ce_id?.toString() === 'innocent-payment')).toHaveLength(1);
      expect(stored).toBe(1);
      // Its id answers that result again; the refused one was given back and is refused again.
      const again = await sendPayment();
      expect(again.status).toBe(200);
      expect(again.body).toEqual(result);
      expect((await sendOrder()).status).toBe(400);
    } finally {
      await app.stop();
      await small.stop();
    }
  });
});

describe('attribute headers as producers send them', () => {
  /** The record of event `id` on orders.v1, once it is there. */
  async function recordOf(id: string) {
    const records = await collect(
      broker.brokers,
      'orders.v1',
      await topicSize(broker.brokers, 'orders.v1'),
    );
    return records.find((r) => r.headers.ce_id?.toString() === id);
  }

  /** The ids on orders.v1 that start with `prefix`. */
  async function idsStartingWith(prefix: string): Promise<string[]> {
    const records = await collect(
      broker.brokers,
      'orders.v1',
      await topicSize(broker.brokers, 'orders.v1'),
    );
    return records
      .map((r) => r.headers.ce_id?.toString() ?? '')
      .filter((id) => id.startsWith(prefix));
  }

  it('refuses a malformed traceparent header with a structured event or a batch, and writes nothing', async () => {
    const event = (id: string) => ({
      specversion: '1.0',
      id,
      source: '/s',
      type: 'order.created',
      data: orderCreated(),
    });
    const structured = await post(`${ingest.url}/v1/events`, event('tp-bad-structured'), {
      contentType: 'application/cloudevents+json',
      headers: { traceparent: 'not-a-trace' },
    });
    const batch = await post(
      `${ingest.url}/v1/events`,
      [event('tp-bad-batch-0'), event('tp-bad-batch-1')],
      {
        contentType: 'application/cloudevents-batch+json',
        headers: { traceparent: '00-xyz' },
      },
    );
    for (const response of [structured, batch]) {
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({
        code: 'ingest.invalid',
        errors: [{ pointer: '/headers/traceparent' }],
      });
    }
    expect(await idsStartingWith('tp-bad-')).toEqual([]);

    // A well-formed one is carried, as before.
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const accepted = await post(`${ingest.url}/v1/events`, event('tp-good-structured'), {
      contentType: 'application/cloudevents+json',
      headers: { traceparent },
    });
    expect(accepted.status).toBe(202);
    expect((await recordOf('tp-good-structured'))?.headers.traceparent?.toString()).toBe(
      traceparent,
    );
  });

  it('refuses raw non-ASCII bytes in attribute headers instead of writing them as Latin-1', async () => {
    // What curl sends for `ce-id: café-1`: the UTF-8 bytes, which HTTP reads as Latin-1 text.
    const asSent = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    const typed = `${ingest.url}/v1/events/order.created`;
    for (const [name, value] of [
      ['ce-id', asSent('café-1')],
      ['idempotency-key', asSent('café-2')],
      ['ce-source', asSent('/köln')],
      ['ce-subject', asSent('bücher')],
      ['herald-key', asSent('clé')],
    ] as const) {
      const response = await post(typed, orderCreated(), {
        headers: {
          // An id of its own, but where the id itself is the header under test.
          ...(name.endsWith('id') || name === 'idempotency-key'
            ? {}
            : { 'ce-id': `ascii-${name}` }),
          [name]: value,
        },
      });
      expect(response.status).toBe(400);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({
        code: 'ingest.invalid',
        errors: [{ pointer: `/headers/${name}`, message: expect.stringContaining('ASCII') }],
      });
    }
    const binary = await post(`${ingest.url}/v1/events`, orderCreated(), {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'ascii-binary-ext',
        'ce-source': '/b',
        'ce-type': 'order.created',
        'ce-region': asSent('zürich'),
      },
    });
    expect(binary.status).toBe(400);
    expect(binary.body).toMatchObject({ errors: [{ pointer: '/headers/ce-region' }] });
    const structured = await post(
      `${ingest.url}/v1/events`,
      {
        specversion: '1.0',
        id: 'ascii-structured',
        source: '/s',
        type: 'order.created',
        data: orderCreated(),
      },
      { contentType: 'application/cloudevents+json', headers: { 'herald-key': asSent('clé') } },
    );
    expect(structured.status).toBe(400);
    expect(structured.body).toMatchObject({ errors: [{ pointer: '/headers/herald-key' }] });
    expect(await idsStartingWith('caf')).toEqual([]);
    expect(await idsStartingWith('ascii-')).toEqual([]);
  });

  it('percent-decodes ce-* header values, as the CloudEvents HTTP binding has producers encode them', async () => {
    const typed = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'ce-id': 'pct-caf%C3%A9', 'ce-source': '/my%20shop/k%C3%B6ln' },
    });
    expect(typed.status).toBe(202);
    expect(typed.body).toMatchObject({ id: 'pct-café' });
    const typedRecord = await recordOf('pct-café');
    expect(typedRecord?.headers.ce_source?.toString()).toBe('/my shop/köln');

    const binary = await post(`${ingest.url}/v1/events`, orderCreated(), {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'pct-binary-%251',
        'ce-source': '/b%22q%22',
        'ce-type': 'order.created',
        'ce-subject': 'z%C3%BCrich',
        'ce-region': 'eu%20west',
      },
    });
    expect(binary.status).toBe(202);
    const binaryRecord = await recordOf('pct-binary-%1');
    expect(binaryRecord?.headers.ce_source?.toString()).toBe('/b"q"');
    expect(binaryRecord?.headers.ce_subject?.toString()).toBe('zürich');
    expect(binaryRecord?.headers.ce_region?.toString()).toBe('eu west');

    // Encoded bytes that are not UTF-8 are refused, not replaced with U+FFFD.
    const refused = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'ce-id': 'pct-bad-%FF' },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ errors: [{ pointer: '/headers/ce-id' }] });
  });

  it('names the header an event id came from when it is refused', async () => {
    const response = await post(`${ingest.url}/v1/events/order.created`, orderCreated(), {
      headers: { 'idempotency-key': 'k'.repeat(1025) },
    });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      errors: [{ pointer: '/headers/idempotency-key', message: expect.stringContaining('1024') }],
    });
  });

  it('refuses a JSON body declared in a charset other than UTF-8 with 415', async () => {
    for (const [url, contentType, body] of [
      [`${ingest.url}/v1/events/order.created`, 'application/json; charset=latin1', orderCreated()],
      [
        `${ingest.url}/v1/events/order.created`,
        'application/json; charset="UTF-16"',
        orderCreated(),
      ],
      [
        `${ingest.url}/v1/events`,
        'application/cloudevents+json; charset=iso-8859-1',
        {
          specversion: '1.0',
          id: 'cs-1',
          source: '/s',
          type: 'order.created',
          data: orderCreated(),
        },
      ],
    ] as const) {
      const response = await post(url, body, { contentType });
      expect(response.status).toBe(415);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(response.body).toMatchObject({ code: 'ingest.unsupported_media_type' });
    }
    // UTF-8, however it is spelled, is JSON's own charset.
    for (const contentType of [
      'application/json; charset=utf-8',
      'application/json;charset="UTF8"',
    ])
      expect(
        (await post(`${ingest.url}/v1/events/order.created`, orderCreated(), { contentType }))
          .status,
      ).toBe(202);
  });
});

describe('the event size limit counts attributes', () => {
  // A small limit, so that a binary event's headers (Node takes 16 KiB of them) can pass it.
  const LIMIT = 8192;
  let small: IngestApp;

  beforeAll(async () => {
    small = await startIngestApp(broker.brokers, { HERALD_MAX_EVENT_BYTES: String(LIMIT) });
  });

  afterAll(async () => {
    await small?.stop();
  });

  /** `count` extension attributes of 1,000 characters each: each within its cap, all past LIMIT. */
  function extensions(count: number): Record<string, string> {
    return Object.fromEntries(
      Array.from({ length: count }, (_, i) => [`ext${i}`, String(i % 10).repeat(1000)]),
    );
  }

  function structured(id: string, attributes: Record<string, string> = {}) {
    return {
      specversion: '1.0',
      id,
      source: '/size',
      type: 'order.created',
      data: orderCreated(),
      ...attributes,
    };
  }

  it('refuses a structured event whose data fits but whose extensions do not, with 413 and nothing written', async () => {
    const before = await topicSize(broker.brokers, 'orders.v1');
    const response = await post(
      `${small.url}/v1/events`,
      structured(`size-structured-${crypto.randomUUID()}`, extensions(9)),
      { contentType: 'application/cloudevents+json' },
    );
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({
      code: 'ingest.too_large',
      errors: [{ pointer: '', message: expect.stringContaining(`the limit is ${LIMIT} bytes`) }],
    });
    // The same event without them is well within the limit.
    const plain = await post(
      `${small.url}/v1/events`,
      structured(`size-structured-${crypto.randomUUID()}`),
      { contentType: 'application/cloudevents+json' },
    );
    expect(plain.status).toBe(202);
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 1);
  });

  it('refuses a binary event whose ce-* headers take it past the limit, with 413 and nothing written', async () => {
    const before = await topicSize(broker.brokers, 'orders.v1');
    const headers = Object.fromEntries(
      Object.entries(extensions(9)).map(([name, value]) => [`ce-${name}`, value]),
    );
    const response = await post(`${small.url}/v1/events`, orderCreated(), {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': `size-binary-${crypto.randomUUID()}`,
        'ce-source': '/size',
        'ce-type': 'order.created',
        ...headers,
      },
    });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ code: 'ingest.too_large', errors: [{ pointer: '' }] });
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
  });

  it('refuses a whole batch with one event too large with its attributes, at its pointer, writing nothing', async () => {
    const before = await topicSize(broker.brokers, 'orders.v1');
    const ids = [0, 1, 2].map((i) => `size-batch-${i}-${crypto.randomUUID()}`);
    const send = (last: Record<string, string>) =>
      post(
        `${small.url}/v1/events`,
        [structured(ids[0]!), structured(ids[1]!), structured(ids[2]!, last)],
        { contentType: 'application/cloudevents-batch+json' },
      );
    const response = await send(extensions(9));
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({
      code: 'ingest.too_large',
      errors: [{ pointer: '/2', message: expect.stringContaining(ids[2]!) }],
    });
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
    // Without the extensions the same batch is written whole: the ids were not kept from it.
    expect((await send({})).status).toBe(202);
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before + 3);
  });

  it('refuses an extension value over 1,024 characters with 400 naming it, as the bridge does', async () => {
    const before = await topicSize(broker.brokers, 'orders.v1');
    const huge = 'h'.repeat(1100 * 1024);
    const single = await post(
      `${ingest.url}/v1/events`,
      structured(`size-ext-${crypto.randomUUID()}`, { big: 'b'.repeat(600 * 1024) }),
      { contentType: 'application/cloudevents+json' },
    );
    expect(single.status).toBe(400);
    expect(single.body).toMatchObject({
      errors: [{ pointer: '/big', message: 'must be at most 1024 characters' }],
    });
    const batch = await post(
      `${ingest.url}/v1/events`,
      [
        structured(`size-ext-${crypto.randomUUID()}`),
        structured(`size-ext-${crypto.randomUUID()}`),
        structured(`size-ext-${crypto.randomUUID()}`, { big: huge }),
      ],
      { contentType: 'application/cloudevents-batch+json' },
    );
    expect(batch.status).toBe(400);
    expect(batch.body).toMatchObject({ errors: [{ pointer: '/2/big' }] });
    const binary = await post(`${ingest.url}/v1/events`, orderCreated(), {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': `size-ext-${crypto.randomUUID()}`,
        'ce-source': '/size',
        'ce-type': 'order.created',
        'ce-big': 'b'.repeat(1025),
      },
    });
    expect(binary.status).toBe(400);
    expect(binary.body).toMatchObject({ errors: [{ pointer: '/headers/ce-big' }] });
    expect(await topicSize(broker.brokers, 'orders.v1')).toBe(before);
  });
});
