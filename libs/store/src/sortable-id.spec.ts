import { isSortableId, newSortableId, sortableIdBefore } from './sortable-id';

describe('newSortableId', () => {
  it('sorts by creation time, also within one millisecond', () => {
    const ids = [
      newSortableId('sub_', 1000),
      newSortableId('sub_', 1000),
      newSortableId('sub_', 1000),
      newSortableId('sub_', 2000),
    ];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(4);
    expect(ids.every((id) => isSortableId(id, 'sub_'))).toBe(true);
  });

  it('recognises only its own shape', () => {
    expect(isSortableId('sub_../../etc', 'sub_')).toBe(false);
    expect(isSortableId(newSortableId('rpl_'), 'sub_')).toBe(false);
  });

  it('bounds the ids made before a time', () => {
    const before = [newSortableId('dlq_', 4999), newSortableId('dlq_', 4999)];
    const after = [newSortableId('dlq_', 5000), newSortableId('dlq_', 5001)];
    const bound = sortableIdBefore('dlq_', 5000);
    expect(before.every((id) => id < bound)).toBe(true);
    expect(after.every((id) => id > bound)).toBe(true);
  });
});
