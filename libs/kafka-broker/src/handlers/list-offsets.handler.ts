import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readListOffsetsRequest } from '../protocol/generated/list-offsets-request.generated';
import {
  writeListOffsetsResponse,
  type ListOffsetsPartitionResponse,
} from '../protocol/generated/list-offsets-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { PartitionLog } from '../storage/storage.types';
import { defineApi } from '../network/api-handler';

const LATEST = -1n;
const EARLIEST = -2n;

/** Kafka's answer for one partition and one target time (-1 latest, -2 earliest, else a timestamp). */
export function offsetFor(
  log: PartitionLog,
  timestamp: bigint,
): { offset: bigint; timestamp: bigint } {
  if (timestamp === LATEST) return { offset: log.nextOffset(), timestamp: -1n };
  if (timestamp === EARLIEST) return { offset: log.logStartOffset(), timestamp: -1n };
  return log.offsetForTimestamp(timestamp) ?? { offset: -1n, timestamp: -1n };
}

export const listOffsetsApi = defineApi({
  apiKey: ApiKey.ListOffsets,
  name: 'ListOffsets',
  // v0 answers with a list of segment offsets instead; v7+ adds max-timestamp lookups we do not do.
  minVersion: 1,
  maxVersion: 6,
  readRequest: readListOffsetsRequest,
  writeResponse: writeListOffsetsResponse,
  handle: (request, ctx) => ({
    throttleTimeMs: 0,
    topics: request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p): ListOffsetsPartitionResponse => {
        const log = ctx.broker.storage.partition(topic.name, p.partitionIndex);
        if (!log) {
          return {
            partitionIndex: p.partitionIndex,
            errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            timestamp: -1n,
            offset: -1n,
            leaderEpoch: -1,
          };
        }
        const found = offsetFor(log, p.timestamp);
        return {
          partitionIndex: p.partitionIndex,
          errorCode: 0,
          timestamp: found.timestamp,
          offset: found.offset,
          leaderEpoch: 0,
        };
      }),
    })),
  }),
});
