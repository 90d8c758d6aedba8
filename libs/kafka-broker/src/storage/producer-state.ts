// Idempotent-producer bookkeeping for one partition, fed by the batch headers appended (or found
// again at open). The protocol layer compares an incoming batch's sequence with it.
import { CorruptStateError } from './storage.errors';
import type { ProducerBatch, ProducerState } from './storage.types';

/** As Kafka: a producer has at most five requests in flight, so five batches cover any retry. */
export const RETAINED_BATCHES_PER_PRODUCER = 5;

const INT32_MAX = 2147483647;

/** Sequence numbers wrap from int32 max back to 0. */
export function lastSequenceOf(baseSequence: number, lastOffsetDelta: number): number {
  const last = baseSequence + lastOffsetDelta;
  return last > INT32_MAX ? last - INT32_MAX - 1 : last;
}

export class ProducerStateTable {
  readonly states = new Map<bigint, ProducerState>();

  apply(
    producerId: bigint,
    producerEpoch: number,
    baseSequence: number,
    lastOffsetDelta: number,
    baseOffset: number,
  ): void {
    const lastSequence = lastSequenceOf(baseSequence, lastOffsetDelta);
    const batch: ProducerBatch = {
      firstSequence: baseSequence,
      lastSequence,
      baseOffset: BigInt(baseOffset),
      lastOffset: BigInt(baseOffset + lastOffsetDelta),
    };
    let state = this.states.get(producerId);
    if (state === undefined || state.producerEpoch !== producerEpoch) {
      state = {
        producerId,
        producerEpoch,
        lastSequence,
        lastBaseOffset: batch.baseOffset,
        lastLastOffset: batch.lastOffset,
        batches: [],
      };
      this.states.set(producerId, state);
    }
    state.lastSequence = lastSequence;
    state.lastBaseOffset = batch.baseOffset;
    state.lastLastOffset = batch.lastOffset;
    state.batches.push(batch);
    if (state.batches.length > RETAINED_BATCHES_PER_PRODUCER) state.batches.shift();
  }

  serialize(): Buffer {
    const rows = [...this.states.values()].map((state) => ({
      producerId: String(state.producerId),
      producerEpoch: state.producerEpoch,
      batches: state.batches.map((batch) => [
        batch.firstSequence,
        batch.lastSequence,
        String(batch.baseOffset),
        String(batch.lastOffset),
      ]),
    }));
    return Buffer.from(JSON.stringify({ version: 1, producers: rows }));
  }

  /** Restores a snapshot written by `serialize`; `source` names it in the error when unreadable. */
  static parse(data: Buffer, source: string): ProducerStateTable {
    const table = new ProducerStateTable();
    try {
      const parsed = JSON.parse(data.toString('utf8')) as {
        producers: {
          producerId: string;
          producerEpoch: number;
          batches: [number, number, string, string][];
        }[];
      };
      for (const row of parsed.producers) {
        const producerId = BigInt(row.producerId);
        for (const [firstSequence, , baseOffset, lastOffset] of row.batches) {
          table.apply(
            producerId,
            row.producerEpoch,
            firstSequence,
            Number(lastOffset) - Number(baseOffset),
            Number(baseOffset),
          );
        }
      }
    } catch (error) {
      throw new CorruptStateError(source, { cause: error });
    }
    return table;
  }
}
