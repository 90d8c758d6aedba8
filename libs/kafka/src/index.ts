export { kafkaConfig, type KafkaConfig, EMBEDDED_BROKER } from './kafka.config';
export { KafkaConnection, kafkaLogCreator } from './kafka.connection';
export { KafkaModule } from './kafka.module';
export {
  KafkaUnavailableError,
  KafkaRejectedError,
  CloudEventAttributesError,
} from './kafka.errors';
export {
  KafkaPublisher,
  recordBytes,
  type LateOutcome,
  type OutgoingRecord,
  type PublishedRecord,
  type PublishOptions,
} from './kafka.publisher';
export {
  ConsumerRunner,
  type ConsumerRunnerOptions,
  type IncomingBatch,
  type IncomingRecord,
  type RunOptions,
} from './consumer.runner';
export { TopicProvisioner, type ProvisionedTopic, type TopicSpec } from './topic.provisioner';
export {
  CLOUDEVENTS_SPEC_VERSION,
  JSON_CONTENT_TYPE,
  fromKafkaHeaders,
  isRfc3339Time,
  toKafkaHeaders,
  toStructuredEvent,
  type CloudEventAttributes,
  type KafkaHeaderValue,
  type ParsedCloudEvent,
} from './cloudevents.codec';
export {
  HERALD_TOPICS,
  HERALD_TOPIC_PREFIX,
  isHeraldTopic,
  topicNameProblem,
  type HeraldTopic,
} from './topic.names';
export { CONSUMER_LAG_METRIC } from './kafka.metrics';
export {
  PartitionFetcher,
  type FetchedBatch,
  type OffsetReset,
  type PartitionFetcherOptions,
  type PartitionPosition,
} from './partition.fetcher';
export { OffsetLookup, type PartitionOffsetAt } from './offset-lookup';
export {
  splitTopicPartitionKey,
  topicPartitionKey,
  type TopicPartitionKey,
} from './topic-partition.key';
export {
  decodeCursor,
  encodeCursor,
  InvalidCursorError,
  MAX_CURSOR_CHARS,
  type CursorPositions,
} from './stream-cursor';
export {
  OffsetRangeReader,
  type PartitionRange,
  type RangeBatch,
  type ReadOptions,
} from './offset-range.reader';
