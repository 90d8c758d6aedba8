import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readCreateTopicsRequest } from '../protocol/generated/create-topics-request.generated';
import {
  writeCreateTopicsResponse,
  type CreatableTopicResult,
} from '../protocol/generated/create-topics-response.generated';
import { defineApi } from '../network/api-handler';

/** DescribeConfigs' source codes: 1 = set on the topic, 5 = broker default. */
const SOURCE_TOPIC = 1;
const SOURCE_DEFAULT = 5;

export const createTopicsApi = defineApi({
  apiKey: ApiKey.CreateTopics,
  name: 'CreateTopics',
  minVersion: 0,
  maxVersion: 7,
  readRequest: readCreateTopicsRequest,
  writeResponse: writeCreateTopicsResponse,
  handle: (request, ctx) => {
    const { topics: catalog, log } = ctx.broker;
    return {
      throttleTimeMs: 0,
      topics: request.topics.map((wanted): CreatableTopicResult => {
        // Manual assignments fix the partition count; replica placement means nothing on one broker.
        const partitions =
          wanted.assignments.length > 0 ? wanted.assignments.length : wanted.numPartitions;
        const prepared = catalog.prepareCreate(
          wanted.name,
          partitions,
          wanted.replicationFactor,
          wanted.configs,
        );
        if (prepared.errorCode !== 0) {
          return {
            name: wanted.name,
            errorCode: prepared.errorCode,
            errorMessage: prepared.message,
            numPartitions: -1,
            replicationFactor: -1,
            configs: null,
          };
        }
        const created = request.validateOnly
          ? undefined
          : catalog.create(wanted.name, prepared.partitions, prepared.config);
        if (created)
          log.info('topic created', { topic: created.name, partitions: created.partitions });
        const described = created ? catalog.describe(created) : [];
        return {
          name: wanted.name,
          topicId: created?.topicId ?? Buffer.alloc(16),
          errorCode: 0,
          errorMessage: null,
          numPartitions: prepared.partitions,
          replicationFactor: 1,
          configs: described.map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            configSource: c.isDefault ? SOURCE_DEFAULT : SOURCE_TOPIC,
            isSensitive: false,
          })),
        };
      }),
    };
  },
});
