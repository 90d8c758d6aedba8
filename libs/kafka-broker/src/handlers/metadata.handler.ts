import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readMetadataRequest } from '../protocol/generated/metadata-request.generated';
import {
  writeMetadataResponse,
  type MetadataResponseTopic,
} from '../protocol/generated/metadata-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { TopicMetadata } from '../storage/storage.types';
import { defineApi } from '../network/api-handler';

/** Kafka's "authorized operations not requested" marker. */
const OPERATIONS_OMITTED = -2147483648;

export function describeTopic(topic: TopicMetadata, nodeId: number): MetadataResponseTopic {
  return {
    errorCode: 0,
    name: topic.name,
    topicId: topic.topicId,
    isInternal: false,
    partitions: Array.from({ length: topic.partitions }, (_, partitionIndex) => ({
      errorCode: 0,
      partitionIndex,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    })),
    topicAuthorizedOperations: OPERATIONS_OMITTED,
  };
}

export const metadataApi = defineApi({
  apiKey: ApiKey.Metadata,
  name: 'Metadata',
  minVersion: 0,
  maxVersion: 12,
  readRequest: readMetadataRequest,
  writeResponse: writeMetadataResponse,
  handle: (request, ctx) => {
    const { options, topics: catalog, storage, endpoint } = ctx.broker;
    // v0 asks for every topic with an empty list; later versions with null.
    const all = request.topics === null || (ctx.apiVersion === 0 && request.topics.length === 0);
    const autoCreate = request.allowAutoTopicCreation ?? true;
    const topics: MetadataResponseTopic[] = all
      ? storage.topics().map((t) => describeTopic(t, options.nodeId))
      : (request.topics ?? []).map((wanted) => {
          const byId =
            wanted.name === null && wanted.topicId ? catalog.byId(wanted.topicId) : undefined;
          if (wanted.name === null) {
            return byId
              ? describeTopic(byId, options.nodeId)
              : {
                  errorCode: KafkaErrorCode.UNKNOWN_TOPIC_ID,
                  name: null,
                  topicId: wanted.topicId,
                  partitions: [],
                };
          }
          const found = catalog.find(wanted.name, autoCreate);
          if (found.topic) return describeTopic(found.topic, options.nodeId);
          return {
            errorCode: found.errorCode,
            name: wanted.name,
            isInternal: false,
            partitions: [],
          };
        });
    return {
      throttleTimeMs: 0,
      brokers: [{ nodeId: options.nodeId, host: endpoint.host, port: endpoint.port, rack: null }],
      clusterId: options.clusterId,
      controllerId: options.nodeId,
      topics,
      clusterAuthorizedOperations: OPERATIONS_OMITTED,
    };
  },
});
