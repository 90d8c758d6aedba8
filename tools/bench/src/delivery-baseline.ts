// The delivery bench's baseline as its own process, as fanout is one: a bare kafkajs consumer
// that POSTs each record's value with undici (64 at a time per partition) and nothing else.
//   node -r @swc-node/register tools/bench/src/delivery-baseline.ts <brokers> <group> <topic> <url>
// Runs until SIGTERM.
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'undici';

async function main(): Promise<void> {
  const [brokers, groupId, topic, url] = process.argv.slice(2);
  if (!brokers || !groupId || !topic || !url)
    throw new Error('usage: delivery-baseline.ts <brokers> <group> <topic> <receiver url>');
  const kafka = new Kafka({
    clientId: 'bench-baseline',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId });
  const pool = new Pool(url, { connections: 64 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await consumer.run({
    partitionsConsumedConcurrently: 6,
    eachBatch: async ({ batch }) => {
      for (let i = 0; i < batch.messages.length; i += 64)
        await Promise.all(
          batch.messages.slice(i, i + 64).map(async (message) => {
            const response = await pool.request({
              path: '/baseline',
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: message.value ?? '',
            });
            await response.body.dump();
          }),
        );
    },
  });
  process.once('SIGTERM', () => {
    void Promise.allSettled([consumer.disconnect(), pool.close()]).then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
