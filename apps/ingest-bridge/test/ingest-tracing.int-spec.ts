import { parseTraceparent } from '@herald/observability';
import { startTestCollector, type TestCollector } from '@herald/observability/testing';
import { collect, startTestBroker, waitFor, type RunningBroker } from '@herald/kafka/testing';
import { post, startIngestApp, type IngestApp } from './ingest-app.fixture';

jest.setTimeout(60_000);

let broker: RunningBroker;
let ingest: IngestApp;
let collector: TestCollector;
let example: Record<string, unknown>;
let published = 0;

beforeAll(async () => {
  collector = await startTestCollector();
  broker = await startTestBroker();
  ingest = await startIngestApp(broker.brokers, {
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
  });
  example = ingest.contract.get('order.created')!.example as Record<string, unknown>;
});

afterAll(async () => {
  await ingest?.stop();
  await broker?.stop();
  await collector?.close();
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
    const span = await waitFor(() => collector.spans.find((s) => s.spanId === written!.spanId), {
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
    const span = await waitFor(() => collector.spans.find((s) => s.spanId === written!.spanId), {
      what: 'the root herald.ingest span at the collector',
    });
    expect(span.traceId).toBe(written!.traceId);
    expect(span.parentSpanId).toBeUndefined();
  });
});
