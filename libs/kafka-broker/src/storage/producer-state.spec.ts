import { ProducerStateTable, lastSequenceOf } from './producer-state';
import { CorruptStateError } from './storage.errors';

describe('ProducerStateTable', () => {
  it('wraps sequence numbers past int32 max back to zero', () => {
    expect(lastSequenceOf(10, 4)).toBe(14);
    expect(lastSequenceOf(2147483647, 0)).toBe(2147483647);
    expect(lastSequenceOf(2147483646, 3)).toBe(1);
  });

  it('round-trips through a snapshot', () => {
    const table = new ProducerStateTable();
    for (let i = 0; i < 7; i++) table.apply(5n, 2, i * 10, 9, 100 + i * 10);
    table.apply(2n ** 62n, 0, 0, 0, 200);
    const restored = ProducerStateTable.parse(table.serialize(), 'test');
    expect([...restored.states]).toEqual([...table.states]);
    expect(restored.states.get(5n)!.batches).toHaveLength(5);
  });

  it('reports an unreadable snapshot', () => {
    expect(() => ProducerStateTable.parse(Buffer.from('{"producers": [{'), 'x')).toThrow(
      CorruptStateError,
    );
  });
});
