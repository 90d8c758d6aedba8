import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readDeleteTopicsRequest } from '../protocol/generated/delete-topics-request.generated';
import { writeDeleteTopicsResponse } from '../protocol/generated/delete-topics-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { defineApi } from '../network/api-handler';

export const deleteTopicsApi = defineApi({
  apiKey: ApiKey.DeleteTopics,
  name: 'DeleteTopics',
  minVersion: 0,
  maxVersion: 6,
  readRequest: readDeleteTopicsRequest,
  writeResponse: writeDeleteTopicsResponse,
  handle: (request, ctx) => {
    const { topics: catalog, storage, log } = ctx.broker;
    // v0-5 name topics; v6 names or ids.
    const wanted =
      ctx.apiVersion >= 6
        ? (request.topics ?? []).map((t) => ({
            name: t.name ?? catalog.byId(t.topicId)?.name ?? null,
            topicId: t.topicId,
          }))
        : (request.topicNames ?? []).map((name) => ({ name, topicId: Buffer.alloc(16) }));
    return {
      throttleTimeMs: 0,
      responses: wanted.map(({ name, topicId }) => {
        const topic = name === null ? undefined : storage.topic(name);
        if (!topic) {
          const errorCode =
            name === null
              ? KafkaErrorCode.UNKNOWN_TOPIC_ID
              : KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          return { name, topicId, errorCode, errorMessage: null };
        }
        catalog.delete(topic.name);
        log.info('topic deleted', { topic: topic.name });
        return { name: topic.name, topicId: topic.topicId, errorCode: 0, errorMessage: null };
      }),
    };
  },
});
