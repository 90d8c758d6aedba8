import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MetricsRegistry } from '../src/metrics.registry';
import { OtlpExporter } from '../src/otlp.exporter';
import { parseTraceparent, Tracer } from '../src/tracing';

interface Received {
  path: string | undefined;
  contentType: string | undefined;
  body: {
    resourceSpans: {
      resource: { attributes: { key: string; value: { stringValue?: string } }[] };
      scopeSpans: {
        spans: { traceId: string; spanId: string; parentSpanId?: string; kind: number }[];
      }[];
    }[];
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('OTLP export to a collector', () => {
  let server: Server;
  let endpoint: string;
  const received: Received[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      void readBody(request).then((body) => {
        received.push({
          path: request.url,
          contentType: request.headers['content-type'],
          body: JSON.parse(body) as Received['body'],
        });
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends a span that continues the incoming trace on shutdown', async () => {
    const metrics = new MetricsRegistry('int-test');
    const exporter = new OtlpExporter({
      endpoint,
      serviceName: 'herald-int-test',
      logger: { warn: () => undefined, info: () => undefined },
      spans: metrics.traceSpans,
      // Far beyond the test's length: only shutdown can have sent the span.
      flushIntervalMs: 60_000,
    });
    const tracer = new Tracer(exporter);
    const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const span = tracer.startSpan('herald.ingest', { kind: 'server', traceparent: incoming });
    const child = parseTraceparent(span.traceparent())!;
    span.end();
    expect(received).toHaveLength(0);

    await tracer.shutdown();

    expect(received).toHaveLength(1);
    const [request] = received;
    expect(request!.path).toBe('/v1/traces');
    expect(request!.contentType).toBe('application/json');
    const [resourceSpans] = request!.body.resourceSpans;
    expect(resourceSpans!.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'herald-int-test' },
    });
    expect(resourceSpans!.scopeSpans[0]!.spans).toEqual([
      expect.objectContaining({
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        spanId: child.spanId,
        parentSpanId: '00f067aa0ba902b7',
        kind: 2,
      }),
    ]);
    expect((await metrics.traceSpans.get()).values.map((v) => [v.labels.outcome, v.value])).toEqual(
      [
        ['exported', 1],
        ['dropped', 0],
        ['failed', 0],
      ],
    );
  });
});
