import type { KafkaMessage } from 'kafkajs';
import { toIncomingRecord } from './consumer.runner';

function message(headers: KafkaMessage['headers']): KafkaMessage {
  return {
    key: Buffer.from('k'),
    value: Buffer.from('{}'),
    timestamp: '1700000000000',
    attributes: 0,
    offset: '7',
    size: 0,
    headers,
  } as KafkaMessage;
}

describe('toIncomingRecord', () => {
  it('keeps each header as bytes, the first of a repeated one', () => {
    const record = toIncomingRecord(
      't',
      2,
      message({ a: Buffer.from('1'), b: [Buffer.from('2'), Buffer.from('3')], c: undefined }),
    );
    expect(record).toMatchObject({ topic: 't', partition: 2, offset: '7' });
    expect(Object.keys(record.headers)).toEqual(['a', 'b']);
    expect(record.headers['a']!.toString()).toBe('1');
    expect(record.headers['b']!.toString()).toBe('2');
  });

  it('reads headers named like inherited members as headers, not as the members', () => {
    // What kafkajs's decoder builds for these names: `constructor` collects into an array that
    // starts with Object's constructor; `__proto__` is an own property.
    const headers: Record<string, unknown> = { constructor: [Object, Buffer.from('c')] };
    Object.defineProperty(headers, '__proto__', {
      value: Buffer.from('p'),
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const record = toIncomingRecord('t', 0, message(headers as KafkaMessage['headers']));
    expect(Object.getPrototypeOf(record.headers)).toBe(Object.prototype);
    expect(Object.keys(record.headers).sort()).toEqual(['__proto__', 'constructor']);
    expect(record.headers['constructor']!.toString()).toBe('c');
    const proto = Object.getOwnPropertyDescriptor(record.headers, '__proto__')!.value as Buffer;
    expect(proto.toString()).toBe('p');
  });

  it('turns a string header into bytes and has no headers for a record without any', () => {
    expect(toIncomingRecord('t', 0, message({ s: 'text' })).headers['s']!.toString()).toBe('text');
    expect(toIncomingRecord('t', 0, message(undefined)).headers).toEqual({});
  });
});
