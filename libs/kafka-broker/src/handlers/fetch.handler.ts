import { ApiKey } from '../protocol/generated/api-messages.generated';
import { readFetchRequest, type FetchRequest } from '../protocol/generated/fetch-request.generated';
import {
  writeFetchResponse,
  type FetchableTopicResponse,
  type FetchResponse,
  type PartitionData,
} from '../protocol/generated/fetch-response.generated';
import { KafkaErrorCode } from '../protocol/protocol.errors';
import { partitionKey } from '../fetch/append-signal';
import { defineApi, type RequestContext } from '../network/api-handler';

const NO_TOPIC_ID = Buffer.alloc(16);
/** librdkafka refuses a null record set, so "no records" is an empty one. */
const NO_RECORDS = Buffer.alloc(0);

interface Collected {
  response: FetchResponse;
  bytes: number;
  failed: boolean;
  keys: string[];
}

function partitionError(partitionIndex: number, errorCode: number): PartitionData {
  return {
    partitionIndex,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: null,
  };
}

/** One pass over the requested partitions: what can be answered right now. */
function collect(request: FetchRequest, ctx: RequestContext): Collected {
  const { storage, topics } = ctx.broker;
  const byId = ctx.apiVersion >= 13;
  let budget = request.maxBytes ?? 0x7fffffff;
  let bytes = 0;
  let failed = false;
  const keys: string[] = [];
  const responses: FetchableTopicResponse[] = request.topics.map((wanted) => {
    const name = byId ? topics.byId(wanted.topicId ?? NO_TOPIC_ID)?.name : wanted.topic;
    const partitions = wanted.partitions.map((p): PartitionData => {
      if (name === undefined) {
        failed = true;
        return partitionError(p.partition, KafkaErrorCode.UNKNOWN_TOPIC_ID);
      }
      const log = storage.partition(name, p.partition);
      if (!log) {
        failed = true;
        return partitionError(p.partition, KafkaErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      }
      keys.push(partitionKey(name, p.partition));
      const highWatermark = log.nextOffset();
      const logStartOffset = log.logStartOffset();
      const base = {
        partitionIndex: p.partition,
        highWatermark,
        lastStableOffset: highWatermark,
        logStartOffset,
        abortedTransactions: null,
        preferredReadReplica: -1,
      };
      if (p.fetchOffset > highWatermark || p.fetchOffset < logStartOffset) {
        failed = true;
        return { ...base, errorCode: KafkaErrorCode.OFFSET_OUT_OF_RANGE, records: NO_RECORDS };
      }
      if (p.fetchOffset === highWatermark || budget <= 0)
        return { ...base, errorCode: 0, records: NO_RECORDS };
      // As Kafka: the first partition with data always gets at least one whole batch, so a batch
      // larger than the limits cannot stall a consumer.
      const limit = Math.min(p.partitionMaxBytes, budget);
      const records = log.read(p.fetchOffset, Math.max(limit, 1));
      if (bytes > 0 && records.length > limit)
        return { ...base, errorCode: 0, records: NO_RECORDS };
      bytes += records.length;
      budget -= records.length;
      return { ...base, errorCode: 0, records };
    });
    return byId
      ? { topicId: wanted.topicId ?? NO_TOPIC_ID, partitions }
      : { topic: wanted.topic ?? '', partitions };
  });
  return {
    response: { throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses },
    bytes,
    failed,
    keys,
  };
}

export const fetchApi = defineApi({
  apiKey: ApiKey.Fetch,
  name: 'Fetch',
  // v0-3 answer with the old message-set formats; fetch sessions are never granted (sessionId 0).
  minVersion: 4,
  maxVersion: 13,
  readRequest: readFetchRequest,
  writeResponse: writeFetchResponse,
  handle: async (request, ctx) => {
    const wait = Math.min(Math.max(0, request.maxWaitMs), ctx.broker.options.maxFetchWaitMs);
    const deadline = Date.now() + wait;
    for (;;) {
      const collected = collect(request, ctx);
      const remaining = deadline - Date.now();
      if (
        collected.bytes >= request.minBytes ||
        collected.failed ||
        remaining <= 0 ||
        ctx.signal.aborted
      ) {
        return collected.response;
      }
      await ctx.broker.appendSignal.wait(collected.keys, remaining, ctx.signal);
    }
  },
});
