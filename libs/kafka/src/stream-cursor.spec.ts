import { decodeCursor, encodeCursor, InvalidCursorError } from './stream-cursor';
import { splitTopicPartitionKey, topicPartitionKey } from './topic-partition.key';

const positions = new Map([
  [topicPartitionKey('orders.v1', 0), 0n],
  [topicPartitionKey('orders.v1', 5), 123_456_789_012n],
  [topicPartitionKey('kitchen.v1', 2), 7n],
  [topicPartitionKey('herald.operational', 1), 2n ** 62n],
]);

describe('stream cursors', () => {
  it('round-trips positions, whatever the order they were given in', () => {
    const text = encodeCursor(positions);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text)).toEqual(positions);
    expect(encodeCursor(new Map([...positions].reverse()))).toBe(text);
  });

  it('is compact: 24 partitions of 5 topics at realistic offsets fit in well under 300 characters', () => {
    const many = new Map<string, bigint>();
    for (const topic of [
      'orders.v1',
      'payments.v1',
      'shipments.v1',
      'kitchen.v1',
      'herald.operational',
    ])
      for (let p = 0; p < 5; p++) many.set(topicPartitionKey(topic, p), 1_000_000n + BigInt(p));
    expect(encodeCursor(many).length).toBeLessThan(300);
  });

  it('splits partition keys back into topic and partition', () => {
    expect(splitTopicPartitionKey(topicPartitionKey('a.b', 12))).toEqual({
      topic: 'a.b',
      partition: 12,
    });
  });

  it.each([
    ['', 'empty'],
    ['not a cursor!', 'base64url'],
    ['AAAA', 'too short'],
    ['x'.repeat(20_000), 'too long'],
  ])('refuses %j (%s)', (text, reason) => {
    expect(() => decodeCursor(text)).toThrow(InvalidCursorError);
    expect(() => decodeCursor(text)).toThrow(reason);
  });

  it('refuses a cursor with any byte changed, cut, or extended', () => {
    const raw = Buffer.from(encodeCursor(positions), 'base64url');
    for (let i = 0; i < raw.length; i++) {
      const changed = Buffer.from(raw);
      changed[i] = changed[i]! ^ 0x01;
      expect(() => decodeCursor(changed.toString('base64url'))).toThrow(InvalidCursorError);
    }
    expect(() => decodeCursor(raw.subarray(0, raw.length - 1).toString('base64url'))).toThrow(
      InvalidCursorError,
    );
    expect(() =>
      decodeCursor(Buffer.concat([raw, Buffer.from([0])]).toString('base64url')),
    ).toThrow(InvalidCursorError);
  });
});
