import pino from 'pino';
import type { KafkaConnection } from '../src/kafka.connection';
import { TopicProvisioner } from '../src/topic.provisioner';
import {
  createTestConnection,
  startTestBroker,
  uniqueName,
  type RunningBroker,
} from '../src/testing';

describe('TopicProvisioner', () => {
  let broker: RunningBroker;
  let connection: KafkaConnection;
  let provisioner: TopicProvisioner;

  beforeAll(async () => {
    broker = await startTestBroker();
    connection = createTestConnection(broker.brokers);
    provisioner = new TopicProvisioner(connection, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await connection.close();
    await broker.stop();
  });

  it('creates missing topics and leaves existing ones alone when asked again', async () => {
    const a = uniqueName('prov');
    const b = uniqueName('prov');
    const specs = [
      { topic: a, partitions: 3, config: { 'retention.ms': '86400000' } },
      { topic: b, partitions: 1 },
    ];
    await expect(provisioner.ensureTopics(specs)).resolves.toEqual([
      { topic: a, outcome: 'created', partitions: 3 },
      { topic: b, outcome: 'created', partitions: 1 },
    ]);
    await expect(provisioner.ensureTopics(specs)).resolves.toEqual([
      { topic: a, outcome: 'exists', partitions: 3 },
      { topic: b, outcome: 'exists', partitions: 1 },
    ]);
    const counts = await provisioner.topicPartitionCounts([a, b, uniqueName('missing')]);
    expect(Object.fromEntries(counts)).toEqual({ [a]: 3, [b]: 1 });
  });

  it('creates the missing topics of a set where some exist', async () => {
    const existing = uniqueName('prov');
    const fresh = uniqueName('prov');
    await provisioner.ensureTopics([{ topic: existing, partitions: 2 }]);
    await expect(
      provisioner.ensureTopics([
        { topic: existing, partitions: 2 },
        { topic: fresh, partitions: 2 },
      ]),
    ).resolves.toEqual([
      { topic: existing, outcome: 'exists', partitions: 2 },
      { topic: fresh, outcome: 'created', partitions: 2 },
    ]);
  });

  it('grows a topic with too few partitions and never shrinks one', async () => {
    const topic = uniqueName('prov');
    await provisioner.ensureTopics([{ topic, partitions: 2 }]);
    await expect(provisioner.ensureTopics([{ topic, partitions: 5 }])).resolves.toEqual([
      { topic, outcome: 'grown', partitions: 5 },
    ]);
    expect((await provisioner.topicPartitionCounts([topic])).get(topic)).toBe(5);
    await expect(provisioner.ensureTopics([{ topic, partitions: 3 }])).resolves.toEqual([
      { topic, outcome: 'exists', partitions: 5 },
    ]);
  });
});
