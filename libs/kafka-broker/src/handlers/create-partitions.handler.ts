import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readCreatePartitionsRequest } from '../protocol/generated/create-partitions-request.generated';
import { writeCreatePartitionsResponse } from '../protocol/generated/create-partitions-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { defineApi } from '../network/api-handler';
import { MAX_PARTITIONS_PER_TOPIC } from '../topics/topic-catalog';

export const createPartitionsApi = defineApi({
  apiKey: ApiKey.CreatePartitions,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  readRequest: readCreatePartitionsRequest,
  writeResponse: writeCreatePartitionsResponse,
  handle: (request, ctx) => {
    const { storage, log } = ctx.broker;
    return {
      throttleTimeMs: 0,
      results: request.topics.map((t) => {
        const topic = storage.topic(t.name);
        if (!topic)
          return {
            name: t.name,
            errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: null,
          };
        if (t.count <= topic.partitions) {
          return {
            name: t.name,
            errorCode: KafkaErrorCode.INVALID_PARTITIONS,
            errorMessage: `topic has ${topic.partitions} partitions; it can only grow`,
          };
        }
        if (t.count > MAX_PARTITIONS_PER_TOPIC) {
          return {
            name: t.name,
            errorCode: KafkaErrorCode.INVALID_PARTITIONS,
            errorMessage: `a topic can have at most ${MAX_PARTITIONS_PER_TOPIC} partitions`,
          };
        }
        if (!request.validateOnly) {
          storage.addPartitions(t.name, t.count);
          log.info('partitions added', { topic: t.name, partitions: t.count });
        }
        return { name: t.name, errorCode: 0, errorMessage: null };
      }),
    };
  },
});
