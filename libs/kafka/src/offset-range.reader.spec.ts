import { clipRange, type PartitionRange } from './offset-range.reader';

describe('clipRange', () => {
  const range = (from: string, to: string): PartitionRange => ({
    topic: 'orders',
    partition: 2,
    from,
    to,
  });
  const held = { low: '100', high: '200' };

  it('keeps a range the partition holds whole', () => {
    expect(clipRange(range('120', '150'), held)).toEqual(range('120', '150'));
  });

  it('starts at the log start and stops at the high watermark', () => {
    expect(clipRange(range('40', '150'), held)).toEqual(range('100', '150'));
    expect(clipRange(range('150', '260'), held)).toEqual(range('150', '200'));
    expect(clipRange(range('0', '9223372036854775807'), held)).toEqual(range('100', '200'));
  });

  it.each([
    ['wholly removed by retention', range('10', '100'), held],
    ['wholly past the end', range('200', '210'), held],
    ['on an emptied partition', range('1', '4'), { low: '7', high: '7' }],
    ['on a partition Kafka does not know', range('0', '5'), undefined],
  ])('leaves nothing of a range %s', (_, asked, offsets) => {
    expect(clipRange(asked, offsets)).toBeNull();
  });
});
