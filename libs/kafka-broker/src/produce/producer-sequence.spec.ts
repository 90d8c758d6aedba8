import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { ProducerState } from '../storage/storage.types';
import { checkSequence, lastSequenceOf, nextSequence } from './producer-sequence';

const state: ProducerState = {
  producerId: 7n,
  producerEpoch: 2,
  lastSequence: 19,
  lastBaseOffset: 100n,
  lastLastOffset: 109n,
  batches: [
    { firstSequence: 0, lastSequence: 9, baseOffset: 50n, lastOffset: 59n },
    { firstSequence: 10, lastSequence: 19, baseOffset: 100n, lastOffset: 109n },
  ],
};

describe('checkSequence', () => {
  it('appends the batch that follows the last one', () => {
    expect(checkSequence(state, 2, 20, 4)).toEqual({ kind: 'append' });
  });

  it('answers a retried batch with its original offsets', () => {
    expect(checkSequence(state, 2, 0, 9)).toEqual({
      kind: 'duplicate',
      baseOffset: 50n,
      lastOffset: 59n,
    });
    expect(checkSequence(state, 2, 10, 9)).toEqual({
      kind: 'duplicate',
      baseOffset: 100n,
      lastOffset: 109n,
    });
  });

  it('refuses gaps and overlaps', () => {
    expect(checkSequence(state, 2, 25, 0)).toEqual({
      kind: 'reject',
      errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(checkSequence(state, 2, 15, 9)).toEqual({
      kind: 'reject',
      errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
  });

  it('starts a new epoch at sequence 0 only', () => {
    expect(checkSequence(state, 3, 0, 5)).toEqual({ kind: 'append' });
    expect(checkSequence(state, 3, 20, 5).kind).toBe('reject');
  });

  it('takes any sequence from a producer it holds no state for, as Kafka does', () => {
    expect(checkSequence(undefined, 0, 0, 5)).toEqual({ kind: 'append' });
    expect(checkSequence(undefined, 0, 4, 5)).toEqual({ kind: 'append' });
    expect(checkSequence(undefined, 3, 2147483647, 0)).toEqual({ kind: 'append' });
  });

  it('fences an older epoch', () => {
    expect(checkSequence(state, 1, 20, 0)).toEqual({
      kind: 'reject',
      errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH,
    });
  });

  it('wraps sequences at int32 max', () => {
    expect(nextSequence(2147483647)).toBe(0);
    expect(lastSequenceOf(2147483646, 3)).toBe(1);
  });
});
