import { resolve } from 'node:path';
import { loadContract, type ContractRegistry } from '@herald/contract';
import { fromKafkaHeaders, type IncomingRecord, type OutgoingRecord } from '@herald/kafka';
import {
  DLQ_HEADERS,
  MAX_DLQ_ERRORS,
  mapSourceRecord,
  type MappedRecord,
} from './source-record.mapper';

const RECORD_TIME = Date.parse('2026-12-06T07:00:00.000Z');
const MAX_RECORD_BYTES = 512 * 1024;

function size(value: string | Buffer | null | undefined): number {
  return value === null || value === undefined ? 0 : Buffer.byteLength(value);
}

/** The bytes a record puts in a produce request, near enough (as the publisher counts them). */
function recordBytes(record: OutgoingRecord): number {
  return Object.entries(record.headers).reduce(
    (sum, [name, value]) => sum + size(name) + size(value),
    size(record.key) + size(record.value),
  );
}

function header(record: OutgoingRecord, name: string): string | undefined {
  return record.headers[name]?.toString();
}

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

  it.each([
    ['nanoseconds since the epoch', '1700000000000000000'],
    ['Kafka’s -1 for none', '-1'],
    ['a time past the year 9999', String(Date.UTC(10000, 0, 1))],
  ])(
    'republishes a record without ce_time whose timestamp is %s at the time of republishing',
    (_, timestamp) => {
      const now = '2027-01-02T03:04:05.678Z';
      const mapped = mapSourceRecord(
        contract,
        channel(),
        { ...raw({ ce_type: 'kitchen.order.ready' }), timestamp },
        now,
      );
      expect(mapped.kind).toBe('event');
      expect(fromKafkaHeaders(mapped.record.headers)).toMatchObject({
        ok: true,
        attributes: { time: now },
      });
    },
  );

  it('dead-letters a record whose mapping throws, naming what it threw, instead of throwing', () => {
    const broken = Object.create(contract) as ContractRegistry;
    broken.validate = () => {
      throw new TypeError('the validator broke');
    };
    const mapped = mapSourceRecord(
      broken,
      channel(),
      raw({ ce_type: 'kitchen.order.ready' }),
      new Date().toISOString(),
    );
    expect(mapped).toMatchObject({
      kind: 'dead-letter',
      reason: 'the record could not be mapped: TypeError: the validator broke',
    });
    expect(mapped.record.value?.toString()).toBe(JSON.stringify(example));
  });

  /** A dead letter of `example` with `extra` properties the schema does not allow. */
  function withExtraProperties(extra: number): { value: string; mapped: MappedRecord } {
    const value = JSON.stringify({
      ...example,
      ...Object.fromEntries(Array.from({ length: extra }, (_, i) => [`k${i}`, 0])),
    });
    const mapped = mapSourceRecord(
      contract,
      channel(),
      { ...raw({ ce_type: 'kitchen.order.ready' }), value: Buffer.from(value) },
      new Date().toISOString(),
      { maxEventBytes: 256 * 1024, maxRecordBytes: MAX_RECORD_BYTES },
    );
    return { value, mapped };
  }

  it('counts the key and the attributes against the event limit, as HTTP ingest does', () => {
    const value = Buffer.from(JSON.stringify(example));
    const map = (headers: Record<string, string>, key: Buffer | null = null) =>
      mapSourceRecord(
        contract,
        channel(),
        { ...raw({ ce_type: 'kitchen.order.ready', ...headers }), key, value },
        new Date().toISOString(),
        { maxEventBytes: value.length + 600, maxRecordBytes: MAX_RECORD_BYTES },
      );
    expect(map({}).kind).toBe('event');
    // The value alone fits; with a producer's extension, or a long key, the record does not.
    const extended = map({ ce_note: 'n'.repeat(700) });
    expect(extended).toMatchObject({ kind: 'dead-letter' });
    expect((extended as { reason: string }).reason).toMatch(
      /^the event is \d+ bytes with its key and attributes; an event may have at most \d+$/,
    );
    expect(map({}, Buffer.alloc(700, 'k')).kind).toBe('dead-letter');
  });

  it('lists the first 20 schema violations of a dead letter and counts them all', () => {
    const { value, mapped } = withExtraProperties(1_500);
    expect(mapped.kind).toBe('dead-letter');
    const errors = JSON.parse(header(mapped.record, DLQ_HEADERS.errors)!) as unknown[];
    expect(errors).toHaveLength(MAX_DLQ_ERRORS);
    expect(errors[0]).toEqual({ pointer: '/k0', message: 'is not allowed here' });
    expect(header(mapped.record, DLQ_HEADERS.errorCount)).toBe('1500');
    expect(header(mapped.record, DLQ_HEADERS.errorCountIsLowerBound)).toBeUndefined();
    // The value is kept: it fits.
    expect(mapped.record.value?.toString()).toBe(value);
  });

  it('names the first violation of a payload too large to count them all, the count a lower bound', () => {
    // 23,000 properties the schema does not allow, within the 256 KiB an event may have.
    const { value, mapped } = withExtraProperties(23_000);
    expect(value.length).toBeLessThan(256 * 1024);
    expect(mapped.kind).toBe('dead-letter');
    expect(JSON.parse(header(mapped.record, DLQ_HEADERS.errors)!)).toEqual([
      { pointer: '/k0', message: 'is not allowed here' },
    ]);
    expect(header(mapped.record, DLQ_HEADERS.errorCount)).toBe('1');
    expect(header(mapped.record, DLQ_HEADERS.errorCountIsLowerBound)).toBe('true');
    expect(mapped.record.value?.toString()).toBe(value);
    expect(recordBytes(mapped.record)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
  });

  it('cuts a huge ce_type out of the reason, and leaves out what does not fit the record', () => {
    const type = 't'.repeat(600_000);
    const mapped = mapSourceRecord(
      contract,
      channel(),
      raw({ ce_type: type, ce_id: 'evt-1' }),
      new Date().toISOString(),
      { maxRecordBytes: MAX_RECORD_BYTES },
    );
    expect(mapped.kind).toBe('dead-letter');
    if (mapped.kind !== 'dead-letter') return;
    expect(mapped.reason.length).toBeLessThan(1100);
    expect(mapped.reason).toMatch(/^event type "t+… \(\d+ more characters\)$/);
    expect(header(mapped.record, DLQ_HEADERS.reason)).toBe(mapped.reason);
    // The raw headers (the 600 KB ce_type) do not fit; the value and key do.
    expect(header(mapped.record, DLQ_HEADERS.headersOmitted)).toBe('true');
    expect(mapped.record.headers['ce_type']).toBeUndefined();
    expect(mapped.record.headers['ce_id']).toBeUndefined();
    expect(mapped.record.value?.toString()).toBe(JSON.stringify(example));
    expect(mapped.record.key?.toString()).toBe('order-1');
    expect(recordBytes(mapped.record)).toBeLessThanOrEqual(MAX_RECORD_BYTES);

    // A key that alone outgrows the record: nothing of the raw record is copied.
    const hugeKey = mapSourceRecord(
      contract,
      channel(),
      { ...raw({ ce_type: type }), key: Buffer.alloc(600_000, 1) },
      new Date().toISOString(),
      { maxRecordBytes: MAX_RECORD_BYTES },
    );
    expect(hugeKey.record.key).toBeNull();
    expect(hugeKey.record.value?.length).toBe(0);
    expect(header(hugeKey.record, DLQ_HEADERS.valueOmitted)).toBe('true');
    expect(header(hugeKey.record, DLQ_HEADERS.keyOmitted)).toBe('true');
    expect(header(hugeKey.record, DLQ_HEADERS.sourceOffset)).toBe('41');
    expect(recordBytes(hugeKey.record)).toBeLessThanOrEqual(MAX_RECORD_BYTES);
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

  describe('attributes and values it must not republish as they are', () => {
    const notUtf8 = Buffer.from([0x62, 0x72, 0xff, 0xfe]);
    function withHeader(name: string, value: Buffer): IncomingRecord {
      const record = raw({ ce_type: 'kitchen.order.ready', ce_id: 'evt-9' });
      return { ...record, headers: { ...record.headers, [name]: value } };
    }

    // Records are built when each test runs: the contract is loaded in beforeAll.
    it.each<[string, () => IncomingRecord, string]>([
      ['a ce_id that is not UTF-8', () => withHeader('ce_id', notUtf8), 'ce_id'],
      ['a ce_source that is not UTF-8', () => withHeader('ce_source', notUtf8), 'ce_source'],
      ['a ce_subject that is not UTF-8', () => withHeader('ce_subject', notUtf8), 'ce_subject'],
      [
        'a malformed traceparent',
        () => withHeader('traceparent', Buffer.from('garbage')),
        'traceparent',
      ],
      [
        'a ce_id of 5,000 characters',
        () => withHeader('ce_id', Buffer.from('x'.repeat(5000))),
        'ce_id',
      ],
      [
        'a ce_source of 2,000 characters',
        () => withHeader('ce_source', Buffer.from('/'.repeat(2000))),
        'ce_source',
      ],
      [
        'a value that is not UTF-8',
        () => ({
          ...raw({ ce_type: 'kitchen.order.ready', ce_id: 'evt-9' }),
          // Valid JSON once the bad bytes are read as U+FFFD, as toString('utf8') does.
          value: (() => {
            const bytes = Buffer.from(JSON.stringify({ ...example, pickupPoint: 'Counter ~~' }));
            bytes.fill(0xff, bytes.indexOf('~~'), bytes.indexOf('~~') + 2);
            return bytes;
          })(),
        }),
        'UTF-8',
      ],
    ])('dead-letters %s with its original bytes and the reason', (_, build, named) => {
      const record = build();
      const mapped = mapSourceRecord(contract, channel(), record, new Date().toISOString());
      expect(mapped.kind).toBe('dead-letter');
      expect(mapped.record.topic).toBe('herald.dlq.ingest');
      expect(header(mapped.record, DLQ_HEADERS.reason)).toContain(named);
      expect(Buffer.compare(mapped.record.value as Buffer, record.value!)).toBe(0);
      for (const [name, value] of Object.entries(record.headers))
        expect(Buffer.compare(mapped.record.headers[name] as Buffer, value as Buffer)).toBe(0);
    });

    it("carries the producer's extensions and dataschema, and refuses an unusable extension", () => {
      const record = raw({
        ce_type: 'kitchen.order.ready',
        ce_dataschema: 'https://schemas.example.com/ready.json',
        ce_partitionkey: 'table-7',
        ce_region: 'eu',
      });
      const mapped = mapSourceRecord(contract, channel(), record, new Date().toISOString());
      expect(mapped.kind).toBe('event');
      expect(mapped.record.headers).toMatchObject({
        ce_dataschema: 'https://schemas.example.com/ready.json',
        ce_partitionkey: 'table-7',
        ce_region: 'eu',
      });
      for (const [name, value, reason] of [
        ['ce_Region', Buffer.from('eu'), 'extension'],
        ['ce_region', notUtf8, 'not UTF-8'],
        ['ce_note', Buffer.from('n'.repeat(1025)), 'at most 1024'],
      ] as const) {
        const refused = mapSourceRecord(
          contract,
          channel(),
          withHeader(name, value),
          new Date().toISOString(),
        );
        expect([name, refused.kind]).toEqual([name, 'dead-letter']);
        expect(header(refused.record, DLQ_HEADERS.reason)).toContain(reason);
      }
    });

    it('leaves out an empty ce_subject, as it does an empty id or source', () => {
      const mapped = mapSourceRecord(
        contract,
        channel(),
        raw({ ce_type: 'kitchen.order.ready', ce_subject: '' }),
        new Date().toISOString(),
      );
      expect(mapped.kind).toBe('event');
      expect(mapped.record.headers['ce_subject']).toBeUndefined();
    });

    it('republishes a well-formed traceparent and UTF-8 attributes as they are', () => {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const mapped = mapSourceRecord(
        contract,
        channel(),
        raw({ ce_type: 'kitchen.order.ready', ce_id: 'café-1', ce_subject: 'zürich', traceparent }),
        new Date().toISOString(),
      );
      expect(mapped.kind).toBe('event');
      expect(fromKafkaHeaders(mapped.record.headers)).toMatchObject({
        ok: true,
        attributes: { id: 'café-1', subject: 'zürich', traceparent },
      });
    });
  });

  describe('with a numeric key pointer', () => {
    let ledger: ContractRegistry;

    beforeAll(async () => {
      ledger = await loadContract(resolve(__dirname, '../../test/fixtures/numeric-key-contract'));
    });

    function keyOf(type: string, value: string): string | undefined {
      const mapped = mapSourceRecord(
        ledger,
        ledger.byTopic('ledger.v1')!,
        {
          topic: 'ledger.raw',
          partition: 0,
          offset: '7',
          timestamp: String(RECORD_TIME),
          key: null,
          value: Buffer.from(value),
          headers: { ce_type: Buffer.from(type) },
        },
        new Date().toISOString(),
      );
      expect(mapped.kind).toBe('event');
      return mapped.record.key?.toString();
    }

    it.each([
      ['12345678901234567890', '12345678901234567890'],
      ['12345678901234567891', '12345678901234567891'],
      ['-12345678901234567890', '-12345678901234567890'],
      ['1.0', '1.0'],
      ['1e2', '1e2'],
      ['-0', '-0'],
    ])(
      'keys a record without a key by the number at the pointer as written: %s',
      (id, expected) => {
        const value = ` { "amount": 1.5, "account": { "id": ${id} } } `;
        expect(keyOf('ledger.entry.posted', value)).toBe(expected);
      },
    );

    it('reads the number behind a pointer with escaped member names', () => {
      expect(keyOf('ledger.entry.reversed', '{"acct\\/no~":100000000000000000001}')).toBe(
        '100000000000000000001',
      );
    });
  });
});
