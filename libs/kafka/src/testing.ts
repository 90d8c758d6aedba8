// Test kit for projects that talk to Kafka: a broker, unique topics, reading records back.
import pino from 'pino';
import {
  startBrokerProcess,
  startTestBroker,
  uniqueName,
  waitFor,
} from '@herald/kafka-broker/testing';
import { ConsumerRunner, type IncomingRecord } from './consumer.runner';
import type { KafkaConfig } from './kafka.config';
import { KafkaConnection } from './kafka.connection';
import { TopicProvisioner } from './topic.provisioner';

export { startBrokerProcess, startTestBroker, uniqueName, waitFor };
export type { BrokerProcess, RunningBroker } from '@herald/kafka-broker/testing';

/** Kafka settings for tests: the given broker, short deadlines so failures show quickly. */
export function testKafkaConfig(brokers: string): KafkaConfig {
  return {
    brokers: brokers.split(','),
    embedded: false,
    clientId: 'herald-test',
    publish: { timeoutMs: 5000, lingerMs: 0, maxBatchBytes: 524_288, metadataMaxAgeMs: 30_000 },
    consumer: {
      lagIntervalMs: 1000,
      fetchMinBytes: 1,
      fetchMaxWaitMs: 500,
      fetchLingerMs: 10,
      metadataMaxAgeMs: 30_000,
    },
  };
}

/** A connection for tests, logging only errors (or everything at `level`). */
export function createTestConnection(brokers: string, level = 'error'): KafkaConnection {
  return new KafkaConnection(testKafkaConfig(brokers), 'herald-test', pino({ level }));
}

/** Creates a topic no other test uses and returns its name. */
export async function createTestTopic(
  brokers: string,
  { partitions = 1, prefix = 'test' }: { partitions?: number; prefix?: string } = {},
): Promise<string> {
  const topic = uniqueName(prefix);
  const connection = createTestConnection(brokers);
  await new TopicProvisioner(connection, pino({ level: 'silent' })).ensureTopics([
    { topic, partitions },
  ]);
  await connection.close();
  return topic;
}

/**
 * Reads the first `n` records of `topic` from the beginning (in offset order per partition) with a
 * group of its own; fails after `timeoutMs` (default 10000) saying how many arrived.
 */
export async function collect(
  brokers: string,
  topic: string,
  n: number,
  { timeoutMs = 10_000 }: { timeoutMs?: number } = {},
): Promise<IncomingRecord[]> {
  const connection = createTestConnection(brokers);
  const runner = new ConsumerRunner(connection, pino({ level: 'error' }));
  const records: IncomingRecord[] = [];
  try {
    await runner.run({
      groupId: uniqueName('collect'),
      topics: [topic],
      fromBeginning: true,
      commit: 'manual',
      eachBatch: async ({ records: batch }) => {
        records.push(...batch);
        return Promise.resolve();
      },
    });
    await waitFor(() => records.length >= n, {
      timeoutMs,
      what: `${n} records on ${topic} (got ${records.length})`,
    });
    return records.slice(0, n);
  } finally {
    await runner.stop();
    await connection.close();
  }
}
