import { CorruptRecordError } from '../storage/record-batch';
import type { PartitionLog } from '../storage/storage.types';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { partitionKey, type AppendSignal } from '../fetch/append-signal';
import { checkSequence } from './producer-sequence';

/** Byte offsets in a v2 record batch header. */
const LAST_OFFSET_DELTA_AT = 23;
const PRODUCER_ID_AT = 43;
const PRODUCER_EPOCH_AT = 51;
const BASE_SEQUENCE_AT = 53;

export interface AppendOutcome {
  errorCode: number;
  baseOffset: bigint;
  logStartOffset: bigint;
  errorMessage?: string;
}

/**
 * Appends produced batches one partition at a time, in arrival order, so the idempotence check and
 * the append it guards can never interleave with another produce to the same partition.
 */
export class PartitionAppender {
  private readonly tails = new Map<string, Promise<unknown>>();

  constructor(private readonly appendSignal: AppendSignal) {}

  append(log: PartitionLog, batch: Buffer): Promise<AppendOutcome> {
    const key = partitionKey(log.topic, log.partition);
    const previous = this.tails.get(key);
    const run = previous
      ? previous.then(() => this.appendNow(log, batch))
      : this.appendNow(log, batch);
    // The chain only orders the work; each caller sees its own failure through `run`.
    const tail = run.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return run;
  }

  private async appendNow(log: PartitionLog, batch: Buffer): Promise<AppendOutcome> {
    const producerId = batch.readBigInt64BE(PRODUCER_ID_AT);
    if (producerId >= 0n) {
      const verdict = checkSequence(
        log.producerStates().get(producerId),
        batch.readInt16BE(PRODUCER_EPOCH_AT),
        batch.readInt32BE(BASE_SEQUENCE_AT),
        batch.readInt32BE(LAST_OFFSET_DELTA_AT),
      );
      if (verdict.kind === 'duplicate') {
        return {
          errorCode: KafkaErrorCode.NONE,
          baseOffset: verdict.baseOffset,
          logStartOffset: log.logStartOffset(),
        };
      }
      if (verdict.kind === 'reject') {
        return {
          errorCode: verdict.errorCode,
          baseOffset: -1n,
          logStartOffset: log.logStartOffset(),
        };
      }
    }
    try {
      const result = await log.append(batch);
      this.appendSignal.notify(log.topic, log.partition);
      return {
        errorCode: KafkaErrorCode.NONE,
        baseOffset: result.baseOffset,
        logStartOffset: result.logStartOffset,
      };
    } catch (error) {
      if (error instanceof CorruptRecordError) {
        return {
          errorCode: KafkaErrorCode.CORRUPT_MESSAGE,
          baseOffset: -1n,
          logStartOffset: log.logStartOffset(),
          errorMessage: error.message,
        };
      }
      throw error;
    }
  }
}
