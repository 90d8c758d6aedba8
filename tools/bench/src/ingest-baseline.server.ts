// The practical limit for HTTP ingest on this machine: a bare node:http server that does the same
// kafkajs write as ingest-bridge (idempotent producer, acks=all, one send per request) with no
// framework, no auth and no validation. Started by ingest.bench.ts as a child process:
//   node -r @swc-node/register tools/bench/src/ingest-baseline.server.ts <brokers> <port> <topic>
import { createServer } from 'node:http';
import { Kafka, logLevel } from 'kafkajs';

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
      const values =
        request.url === '/batch'
          ? (JSON.parse(body) as { data: unknown }[]).map((e) => JSON.stringify(e.data))
          : [body];
      producer
        .send({ topic, acks: -1, messages: values.map((value) => ({ key: null, value })) })
        .then(
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
