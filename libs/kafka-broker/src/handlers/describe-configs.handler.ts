import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readDescribeConfigsRequest } from '../protocol/generated/describe-configs-request.generated';
import {
  writeDescribeConfigsResponse,
  type DescribeConfigsResult,
} from '../protocol/generated/describe-configs-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import type { DescribedConfig } from '../topics/topic-catalog';
import { defineApi } from '../network/api-handler';

const RESOURCE_TOPIC = 2;
const RESOURCE_BROKER = 4;
/** DescribeConfigs' source codes. */
const SOURCE_TOPIC = 1;
const SOURCE_STATIC_BROKER = 4;
const SOURCE_DEFAULT = 5;

export const describeConfigsApi = defineApi({
  apiKey: ApiKey.DescribeConfigs,
  name: 'DescribeConfigs',
  minVersion: 0,
  maxVersion: 4,
  readRequest: readDescribeConfigsRequest,
  writeResponse: writeDescribeConfigsResponse,
  handle: (request, ctx) => {
    const { storage, topics: catalog, options } = ctx.broker;
    const results = request.resources.map((resource): DescribeConfigsResult => {
      const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
      let configs: DescribedConfig[];
      let source: (c: DescribedConfig) => number;
      if (resource.resourceType === RESOURCE_TOPIC) {
        const topic = storage.topic(resource.resourceName);
        if (!topic)
          return {
            ...base,
            errorCode: KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            errorMessage: 'unknown topic',
            configs: [],
          };
        configs = catalog.describe(topic);
        source = (c) => (c.isDefault ? SOURCE_DEFAULT : SOURCE_TOPIC);
      } else if (resource.resourceType === RESOURCE_BROKER) {
        configs = [
          { name: 'broker.id', value: String(options.nodeId), isDefault: false, readOnly: true },
          {
            name: 'auto.create.topics.enable',
            value: String(options.autoCreateTopics),
            isDefault: false,
            readOnly: true,
          },
          {
            name: 'num.partitions',
            value: String(options.defaultPartitions),
            isDefault: false,
            readOnly: true,
          },
          {
            name: 'message.max.bytes',
            value: String(options.maxMessageBytes),
            isDefault: false,
            readOnly: true,
          },
          {
            name: 'socket.request.max.bytes',
            value: String(options.maxFrameBytes),
            isDefault: false,
            readOnly: true,
          },
        ];
        source = () => SOURCE_STATIC_BROKER;
      } else {
        return {
          ...base,
          errorCode: KafkaErrorCode.INVALID_REQUEST,
          errorMessage: `resource type ${resource.resourceType} is not supported`,
          configs: [],
        };
      }
      const keys = resource.configurationKeys;
      return {
        ...base,
        errorCode: 0,
        errorMessage: null,
        configs: configs
          .filter((c) => keys === null || keys.length === 0 || keys.includes(c.name))
          .map((c) => ({
            name: c.name,
            value: c.value,
            readOnly: c.readOnly,
            isDefault: c.isDefault,
            configSource: source(c),
            isSensitive: false,
            synonyms: [],
            configType: 0,
            documentation: null,
          })),
      };
    });
    return { throttleTimeMs: 0, results };
  },
});
