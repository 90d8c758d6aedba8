import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { startTestBroker, uniqueName, waitFor, type RunningBroker } from '../src/testing';

let broker: RunningBroker;
let kafka: Kafka;

beforeAll(async () => {
  broker = await startTestBroker();
  kafka = new Kafka({ clientId: 'conformance', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
});

afterAll(async () => {
  await broker.stop();
});

describe('kafkajs', () => {
  it('produces and consumes in a group', async () => {
    const topic = uniqueName('basic');
    const producer: Producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    const consumer: Consumer = kafka.consumer({ groupId: uniqueName('g') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
    await waitFor(() => seen.length >= 10, { what: '10 records' });
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `v${i}`));
    await consumer.disconnect();
    await producer.disconnect();
  });
});
