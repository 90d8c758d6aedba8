import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readProduceRequest } from '../protocol/generated/produce-request.generated';
import {
  writeProduceResponse,
  type PartitionProduceResponse,
  type TopicProduceResponse,
} from '../protocol/generated/produce-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { validateProducedBatch } from '../produce/record-batch.validator';
import { correctMaxTimestamp } from '../storage/record-batch';
import { defineApi, type RequestContext } from '../network/api-handler';

function partitionError(
  index: number,
  errorCode: number,
  errorMessage: string | null = null,
): PartitionProduceResponse {
  return {
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors: [],
    errorMessage,
  };
}

async function producePartition(
  ctx: RequestContext,
  topicName: string,
  index: number,
  records: Buffer | null,
): Promise<PartitionProduceResponse> {
  const { topics, storage, appender, options } = ctx.broker;
  const found = topics.find(topicName, true);
  if (!found.topic) return partitionError(index, found.errorCode);
  const log = storage.partition(topicName, index);
  if (!log) return partitionError(index, KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (!records || records.length === 0)
    return partitionError(index, KafkaErrorCode.CORRUPT_MESSAGE, 'no records');
  const check = await validateProducedBatch(records, options.maxMessageBytes);
  if (check.errorCode !== 0) return partitionError(index, check.errorCode, check.message ?? null);
  if (check.maxTimestamp !== undefined) correctMaxTimestamp(records, 0, check.maxTimestamp);
  const outcome = await appender.append(log, records);
  return {
    index,
    errorCode: outcome.errorCode,
    baseOffset: outcome.baseOffset,
    logAppendTimeMs: -1n,
    logStartOffset: outcome.logStartOffset,
    recordErrors: [],
    errorMessage: outcome.errorMessage ?? null,
  };
}

export const produceApi = defineApi({
  apiKey: ApiKey.Produce,
  name: 'Produce',
  // v0-2 carry the old message-set formats (magic 0/1), which this broker does not store.
  minVersion: 3,
  maxVersion: 11,
  readRequest: readProduceRequest,
  writeResponse: writeProduceResponse,
  handle: async (request, ctx) => {
    const acks = request.acks;
    let responses: TopicProduceResponse[];
    if (acks !== 0 && acks !== 1 && acks !== -1) {
      responses = request.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) =>
          partitionError(p.index, KafkaErrorCode.INVALID_REQUIRED_ACKS),
        ),
      }));
    } else if (request.transactionalId) {
      responses = request.topicData.map((t) => ({
        name: t.name,
        partitionResponses: t.partitionData.map((p) =>
          partitionError(p.index, KafkaErrorCode.INVALID_REQUEST, 'transactions are not supported'),
        ),
      }));
    } else {
      responses = await Promise.all(
        request.topicData.map(async (t) => ({
          name: t.name,
          partitionResponses: await Promise.all(
            t.partitionData.map((p) => producePartition(ctx, t.name, p.index, p.records)),
          ),
        })),
      );
    }
    // acks=0: the producer does not read a response, so none is sent.
    if (acks === 0) return undefined;
    return { responses, throttleTimeMs: 0 };
  },
});
