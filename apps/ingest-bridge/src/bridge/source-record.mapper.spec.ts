import { resolve } from 'node:path';
import { loadContract, type ContractRegistry } from '@herald/contract';
import { fromKafkaHeaders, type IncomingRecord } from '@herald/kafka';
import { mapSourceRecord } from './source-record.mapper';

const RECORD_TIME = Date.parse('2026-12-06T07:00:00.000Z');

describe('mapSourceRecord', () => {
  let contract: ContractRegistry;
  let example: Record<string, unknown>;

  beforeAll(async () => {
    contract = await loadContract(resolve(__dirname, '../../../../asyncapi'));
    example = contract.get('kitchen.order.ready')!.example as Record<string, unknown>;
  });

  function raw(headers: Record<string, string>): IncomingRecord {
    return {
      topic: 'kitchen.raw',
      partition: 2,
      offset: '41',
      timestamp: String(RECORD_TIME),
      key: Buffer.from('order-1'),
      value: Buffer.from(JSON.stringify(example)),
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
    };
  }

  const channel = () => contract.topics().find((t) => t.topic === 'kitchen.v1')!;

  it.each([
    ['a date without a time', { ce_time: '2024-05-01' }],
    ['a number', { ce_time: '0' }],
    ['an English date', { ce_time: 'May 1 2024' }],
    ['an empty id and source', { ce_id: '', ce_source: '' }],
  ])('republishes a record whose attributes hold %s as an event fanout can read', (_, headers) => {
    const mapped = mapSourceRecord(
      contract,
      channel(),
      raw({ ce_type: 'kitchen.order.ready', ...headers }),
      new Date().toISOString(),
    );
    expect(mapped.kind).toBe('event');
    const read = fromKafkaHeaders(mapped.record.headers);
    expect(read).toMatchObject({ ok: true });
    if (!read.ok) return;
    if ('ce_time' in headers)
      expect(read.attributes.time).toBe(new Date(RECORD_TIME).toISOString());
    if ('ce_id' in headers) {
      expect(read.attributes.id).toBe('kitchen.raw-2-41');
      expect(read.attributes.source).toBe('/kitchen-display');
    }
  });

  it('carries a binary key byte for byte, to the channel and to the dead letters', () => {
    const key = Buffer.from([0xff, 0x01, 0x80]); // not UTF-8 (a Java LongSerializer's, say)
    const event = mapSourceRecord(
      contract,
      channel(),
      { ...raw({ ce_type: 'kitchen.order.ready' }), key },
      new Date().toISOString(),
    );
    expect(event.kind).toBe('event');
    expect(Buffer.compare(event.record.key as Buffer, key)).toBe(0);
    const letter = mapSourceRecord(
      contract,
      channel(),
      { ...raw({ ce_type: 'kitchen.order.ready' }), key, value: Buffer.from('{not json') },
      new Date().toISOString(),
    );
    expect(letter.kind).toBe('dead-letter');
    expect(Buffer.compare(letter.record.key as Buffer, key)).toBe(0);
  });

  it('keeps a producer’s valid attributes as they are', () => {
    const mapped = mapSourceRecord(
      contract,
      channel(),
      raw({
        ce_type: 'kitchen.order.ready',
        ce_id: 'evt-7',
        ce_source: '/line-3',
        ce_time: '2024-05-01T12:00:00+02:00',
      }),
      new Date().toISOString(),
    );
    expect(fromKafkaHeaders(mapped.record.headers)).toMatchObject({
      ok: true,
      attributes: { id: 'evt-7', source: '/line-3', time: '2024-05-01T12:00:00+02:00' },
    });
  });
});
