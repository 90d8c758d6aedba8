import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { ProducerState } from '../storage/storage.types';

const INT32_MAX = 2147483647;

/** What to do with a batch from an idempotent producer, given what the partition has seen of it. */
export type SequenceVerdict =
  | { kind: 'append' }
  /** A retry of a batch already in the log: answer with its original offsets, append nothing. */
  | { kind: 'duplicate'; baseOffset: bigint; lastOffset: bigint }
  | { kind: 'reject'; errorCode: number };

/** Sequence numbers wrap from int32 max back to 0. */
export function nextSequence(sequence: number): number {
  return sequence === INT32_MAX ? 0 : sequence + 1;
}

export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  const last = baseSequence + lastOffsetDelta;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

/**
 * Kafka's per-partition idempotence rule (ProducerAppendInfo.checkSequence): a producer the
 * partition holds nothing of may start at any sequence, a new epoch starts at sequence 0, each
 * batch continues right after the last one, retries of the last five batches are recognised,
 * anything else is a gap.
 */
export function checkSequence(
  state: ProducerState | undefined,
  producerEpoch: number,
  baseSequence: number,
  lastOffsetDelta: number,
): SequenceVerdict {
  // No state: a broker restarted in memory, or a topic deleted and created again. Refusing all but
  // sequence 0 would fail the producer for ever: its sequence never goes back to 0.
  if (state === undefined) return { kind: 'append' };
  if (producerEpoch > state.producerEpoch) {
    return baseSequence === 0
      ? { kind: 'append' }
      : { kind: 'reject', errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
  }
  if (producerEpoch < state.producerEpoch) {
    return { kind: 'reject', errorCode: KafkaErrorCode.INVALID_PRODUCER_EPOCH };
  }
  const lastSequence = lastSequenceOf(baseSequence, lastOffsetDelta);
  const retried = state.batches.find(
    (batch) => batch.firstSequence === baseSequence && batch.lastSequence === lastSequence,
  );
  if (retried)
    return { kind: 'duplicate', baseOffset: retried.baseOffset, lastOffset: retried.lastOffset };
  if (baseSequence === nextSequence(state.lastSequence)) return { kind: 'append' };
  return { kind: 'reject', errorCode: KafkaErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER };
}
