import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readOffsetFetchRequest } from '../protocol/generated/offset-fetch-request.generated';
import { writeOffsetFetchResponse } from '../protocol/generated/offset-fetch-response.generated';
import type { GroupCoordinator } from '../group/group-coordinator';
import { defineApi } from '../network/api-handler';

interface FetchedTopic {
  name: string;
  partitions: {
    partitionIndex: number;
    committedOffset: bigint;
    committedLeaderEpoch: number;
    metadata: string | null;
    errorCode: number;
  }[];
}

/** Committed offsets of one group: the asked partitions (-1 when none), or everything when `topics` is null. */
function fetchOffsets(
  groups: GroupCoordinator,
  groupId: string,
  topics: { name: string; partitionIndexes: number[] }[] | null,
): FetchedTopic[] {
  if (topics === null) {
    const byTopic = new Map<string, FetchedTopic>();
    for (const { topic, partition, value } of groups.committedOffsetsOf(groupId)) {
      let entry = byTopic.get(topic);
      if (!entry) {
        entry = { name: topic, partitions: [] };
        byTopic.set(topic, entry);
      }
      entry.partitions.push({
        partitionIndex: partition,
        committedOffset: value.offset,
        committedLeaderEpoch: value.leaderEpoch,
        metadata: value.metadata,
        errorCode: 0,
      });
    }
    return [...byTopic.values()];
  }
  return topics.map((t) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((partitionIndex) => {
      const committed = groups.committedOffset(groupId, t.name, partitionIndex);
      return {
        partitionIndex,
        committedOffset: committed?.offset ?? -1n,
        committedLeaderEpoch: committed?.leaderEpoch ?? -1,
        metadata: committed ? committed.metadata : '',
        errorCode: 0,
      };
    }),
  }));
}

export const offsetFetchApi = defineApi({
  apiKey: ApiKey.OffsetFetch,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 8,
  readRequest: readOffsetFetchRequest,
  writeResponse: writeOffsetFetchResponse,
  handle: (request, ctx) => {
    const { groups } = ctx.broker;
    if (ctx.apiVersion >= 8) {
      return {
        throttleTimeMs: 0,
        groups: (request.groups ?? []).map((g) => ({
          groupId: g.groupId,
          topics: fetchOffsets(groups, g.groupId, g.topics),
          errorCode: 0,
        })),
      };
    }
    const topics = request.topics === undefined ? [] : request.topics;
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      topics: fetchOffsets(groups, request.groupId ?? '', topics),
    };
  },
});
