import { CloudEvent, Kafka, type KafkaMessage } from 'cloudevents';
import {
  fromKafkaHeaders,
  isRfc3339Time,
  toKafkaHeaders,
  toStructuredEvent,
  type CloudEventAttributes,
} from './cloudevents.codec';
import { CloudEventAttributesError } from './kafka.errors';

const attributes: CloudEventAttributes = {
  id: 'evt-1',
  source: '/orders',
  type: 'order.created',
  time: '2025-01-02T03:04:05.678Z',
  subject: 'order-42',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  extensions: { tenant: 'acme', partitionkey: 'order-42' },
};

describe('CloudEvents Kafka header codec', () => {
  it('writes the binary-mode headers', () => {
    expect(toKafkaHeaders(attributes)).toEqual({
      ce_specversion: '1.0',
      ce_id: 'evt-1',
      ce_source: '/orders',
      ce_type: 'order.created',
      ce_time: '2025-01-02T03:04:05.678Z',
      ce_subject: 'order-42',
      'content-type': 'application/json',
      traceparent: attributes.traceparent,
      ce_tenant: 'acme',
      ce_partitionkey: 'order-42',
    });
  });

  it('omits optional headers that are not given', () => {
    const headers = toKafkaHeaders({ id: 'a', source: 's', type: 't', time: attributes.time });
    expect(Object.keys(headers).sort()).toEqual(
      ['ce_id', 'ce_source', 'ce_specversion', 'ce_time', 'ce_type', 'content-type'].sort(),
    );
  });

  it('refuses extension names the spec does not allow', () => {
    for (const name of ['Tenant', 'with-dash', 'id', 'waytoolongforanextension'])
      expect(() => toKafkaHeaders({ ...attributes, extensions: { [name]: 'x' } })).toThrow(
        CloudEventAttributesError,
      );
  });

  it('reads back what it writes, from strings or Buffers', () => {
    const headers = toKafkaHeaders(attributes);
    const asBuffers = Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]),
    );
    const expected = {
      ok: true,
      attributes: { ...attributes, datacontenttype: 'application/json' },
      timeMs: Date.parse(attributes.time),
    };
    expect(fromKafkaHeaders(headers)).toEqual(expected);
    expect(fromKafkaHeaders(asBuffers)).toEqual(expected);
  });

  it.each([
    ['missing specversion', { ce_specversion: undefined }, /ce_specversion/],
    ['another specversion', { ce_specversion: '0.3' }, /unsupported ce_specversion/],
    ['missing id', { ce_id: undefined }, /ce_id/],
    ['empty source', { ce_source: '' }, /ce_source/],
    ['missing type', { ce_type: undefined }, /ce_type/],
    ['missing time', { ce_time: undefined }, /ce_time/],
    ['a time that is not RFC 3339', { ce_time: 'yesterday' }, /RFC 3339/],
    ['an impossible date', { ce_time: '2025-02-30T25:00:00Z' }, /RFC 3339/],
    ['30 February', { ce_time: '2024-02-30T00:00:00Z' }, /RFC 3339/],
    ['29 February of a common year', { ce_time: '2023-02-29T10:00:00Z' }, /RFC 3339/],
    ['31 April', { ce_time: '2024-04-31T00:00:00+02:00' }, /RFC 3339/],
    ['a bad attribute name', { 'ce_Bad-Name': 'x' }, /not a valid CloudEvents attribute/],
  ])('refuses %s', (_, change, reason) => {
    const headers: Record<string, string | undefined> = {
      ...toKafkaHeaders(attributes),
      ...change,
    };
    const result = fromKafkaHeaders(headers);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it('takes RFC 3339 times on real calendar days only', () => {
    for (const good of [
      '2024-02-29T00:00:00Z',
      '2025-12-31T23:59:59.123456789+14:00',
      '2025-04-30t08:00:00z',
      '2000-02-29T00:00:00Z',
    ])
      expect([good, isRfc3339Time(good)]).toEqual([good, true]);
    // Date.parse would roll the first three over into the next month.
    for (const bad of [
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2025-06-31T00:00:00Z',
      '1900-02-29T00:00:00Z',
      '2025-06-01T24:00:00Z',
      '2025-06-01T12:00:00',
      '2025-06-01',
      '2016-12-31T23:59:60Z',
    ])
      expect([bad, isRfc3339Time(bad)]).toEqual([bad, false]);
  });

  it('gives the event time in ms, offsets and fractions included', () => {
    for (const time of ['2025-12-31T23:59:59.123456789+14:00', '2024-02-29T00:00:00Z'])
      expect(fromKafkaHeaders(toKafkaHeaders({ ...attributes, time }))).toMatchObject({
        ok: true,
        timeMs: Date.parse(time),
      });
  });

  it('matches header names in any case, the later of two spellings winning', () => {
    const headers: Record<string, string> = { ...toKafkaHeaders(attributes) };
    delete headers['ce_type'];
    Object.assign(headers, { CE_TYPE: 'first.type', Ce_Type: 'second.type', CE_Tenant: 'acme' });
    const parsed = fromKafkaHeaders(headers);
    expect(parsed.ok && parsed.attributes).toMatchObject({
      type: 'second.type',
      extensions: { tenant: 'acme' },
    });
  });

  it('accepts ce_traceparent from producers that prefix it', () => {
    const { traceparent, ...rest } = toKafkaHeaders(attributes);
    const result = fromKafkaHeaders({ ...rest, ce_traceparent: traceparent });
    expect(result.ok && result.attributes.traceparent).toBe(attributes.traceparent);
  });

  it('produces headers the cloudevents SDK parses into the same event', () => {
    const data = { orderId: 'order-42', total: 12.5 };
    const message: KafkaMessage<Buffer> = {
      key: 'order-42',
      value: Buffer.from(JSON.stringify(data)),
      headers: toKafkaHeaders(attributes),
      body: undefined,
    };
    const event = Kafka.toEvent(message) as CloudEvent<typeof data>;
    expect(event.id).toBe('evt-1');
    expect(event.source).toBe('/orders');
    expect(event.type).toBe('order.created');
    expect(event.specversion).toBe('1.0');
    expect(event.subject).toBe('order-42');
    expect(event.time).toBe(attributes.time);
    expect(event.datacontenttype).toBe('application/json');
    expect(event.data).toEqual(data);
    expect(event['tenant']).toBe('acme');
  });

  it('builds a structured event the cloudevents SDK accepts', () => {
    const structured = toStructuredEvent(attributes, { orderId: 'order-42' });
    expect(structured).toMatchObject({
      specversion: '1.0',
      id: 'evt-1',
      datacontenttype: 'application/json',
      data: { orderId: 'order-42' },
      tenant: 'acme',
    });
    const event = new CloudEvent(structured, true);
    expect(event.validate()).toBe(true);
    expect(event.data).toEqual({ orderId: 'order-42' });
  });

  it('puts binary data in data_base64', () => {
    const structured = toStructuredEvent(
      { ...attributes, datacontenttype: 'application/octet-stream' },
      Buffer.from([1, 2, 3]),
    );
    expect(structured['data_base64']).toBe('AQID');
    expect(structured).not.toHaveProperty('data');
  });
});
