import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseTraceparent } from '@herald/observability';
import { collect, startTestBroker, waitFor, type RunningBroker } from '@herald/kafka/testing';
import { post, startIngestApp, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(60_000);

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status: { code: number };
}

let broker: RunningBroker;
let ingest: IngestApp;
let collector: Server;
let example: Record<string, unknown>;
const spans: ExportedSpan[] = [];
let published = 0;

beforeAll(async () => {
  // A stand-in OTLP collector that keeps every span it is sent.
  collector = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: { scopeSpans: { spans: ExportedSpan[] }[] }[];
      };
      for (const resource of body.resourceSpans)
        for (const scope of resource.scopeSpans) spans.push(...scope.spans);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  broker = await startTestBroker();
  ingest = await startIngestApp(broker.brokers, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
  });
  example = ingest.contract.get('order.created')!.example as Record<string, unknown>;
});

afterAll(async () => {
  await ingest?.stop();
  await broker?.stop();
  await new Promise<void>((resolve) => collector.close(() => resolve()));
});

async function ingestAndRead(id: string, headers: Record<string, string>) {
  const response = await post(
    `${ingest.url}/v1/events/order.created`,
    { ...example, orderId: crypto.randomUUID() },
    { headers: { 'ce-id': id, 'ce-source': '/checkout', ...headers } },
  );
  expect(response.status).toBe(202);
  // Every event this file publishes goes to orders.v1; read them all and pick this one.
  published += 1;
  const records = await collect(broker.brokers, 'orders.v1', published);
  const record = records.find((r) => r.headers.ce_id?.toString() === id)!;
  return parseTraceparent(record.headers.traceparent?.toString());
}

describe('ingest with tracing on', () => {
  it("continues the producer's trace: Kafka carries the ingest span as parent", async () => {
    const written = await ingestAndRead('traced-1', {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    });
    expect(written).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', sampled: true });
    const span = await waitFor(() => spans.find((s) => s.spanId === written!.spanId), {
      what: 'the herald.ingest span at the collector',
    });
    expect(span).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
      name: 'herald.ingest',
      kind: 2,
      status: { code: 1 },
    });
  });

  it('starts a trace for an event sent without one', async () => {
    const written = await ingestAndRead('untraced-1', {});
    expect(written).toBeDefined();
    const span = await waitFor(() => spans.find((s) => s.spanId === written!.spanId), {
      what: 'the root herald.ingest span at the collector',
    });
    expect(span.traceId).toBe(written!.traceId);
    expect(span.parentSpanId).toBeUndefined();
  });
});
