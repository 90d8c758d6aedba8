// The practical limit for HTTP ingest on this machine: a bare node:http server that does the same
// kafkajs write as ingest-bridge (idempotent producer, acks=all, one send per request, the order id
// as key and the CloudEvents binary-mode headers) with no framework, no auth, no validation and no
// idempotency records. Started by ingest.bench.ts as a child process:
//   node -r @swc-node/register tools/bench/src/ingest-baseline.server.ts <brokers> <port> <topic>
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Kafka, logLevel, type Message } from 'kafkajs';

interface BaselineEvent {
  id: string;
  source: string;
  type: string;
  data: { orderId?: string };
}

function toMessage(event: BaselineEvent): Message {
  return {
    key: event.data.orderId ?? null,
    value: JSON.stringify(event.data),
    headers: {
      ce_specversion: '1.0',
      ce_id: event.id,
      ce_source: event.source,
      ce_type: event.type,
      ce_time: new Date().toISOString(),
      'content-type': 'application/json',
    },
  };
}

async function main(): Promise<void> {
  const [brokers, port, topic] = process.argv.slice(2) as [string, string, string];
  const kafka = new Kafka({ clientId: 'baseline', brokers: [brokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  const server = createServer((request, response) => {
    if (request.url === '/health/ready') {
      response.end('ok');
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const events: BaselineEvent[] =
        request.url === '/batch'
          ? (JSON.parse(body) as BaselineEvent[])
          : [
              {
                id: randomUUID(),
                source: '/bench',
                type: 'order.created',
                data: JSON.parse(body) as BaselineEvent['data'],
              },
            ];
      producer.send({ topic, acks: -1, messages: events.map(toMessage) }).then(
        (metadata) => {
          response.writeHead(202, { 'content-type': 'application/json' });
          response.end(JSON.stringify(metadata));
        },
        (error: unknown) => {
          response.writeHead(503);
          response.end(String(error));
        },
      );
    });
  });
  server.listen(Number(port), '127.0.0.1');
}

void main();
