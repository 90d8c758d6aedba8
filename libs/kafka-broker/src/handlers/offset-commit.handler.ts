import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readOffsetCommitRequest } from '../protocol/generated/offset-commit-request.generated';
import { writeOffsetCommitResponse } from '../protocol/generated/offset-commit-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { CommittedOffset } from '../storage/storage.types';
import { defineApi } from '../network/api-handler';

export const offsetCommitApi = defineApi({
  apiKey: ApiKey.OffsetCommit,
  name: 'OffsetCommit',
  minVersion: 0,
  maxVersion: 8,
  readRequest: readOffsetCommitRequest,
  writeResponse: writeOffsetCommitResponse,
  handle: (request, ctx) => {
    const { storage, groups } = ctx.broker;
    const now = Date.now();
    const offsets: { topic: string; partition: number; value: CommittedOffset }[] = [];
    const unknown = new Set<string>();
    for (const topic of request.topics) {
      for (const p of topic.partitions) {
        if (!storage.partition(topic.name, p.partitionIndex)) {
          unknown.add(`${topic.name}:${p.partitionIndex}`);
          continue;
        }
        offsets.push({
          topic: topic.name,
          partition: p.partitionIndex,
          value: {
            offset: p.committedOffset,
            leaderEpoch: p.committedLeaderEpoch ?? -1,
            metadata: p.committedMetadata,
            commitTimestampMs: now,
          },
        });
      }
    }
    const errorCode = groups.commitOffsets({
      groupId: request.groupId,
      memberId: request.memberId ?? '',
      generationId: request.generationIdOrMemberEpoch ?? -1,
      offsets,
    });
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: unknown.has(`${topic.name}:${p.partitionIndex}`)
            ? KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION
            : errorCode,
        })),
      })),
    };
  },
});
