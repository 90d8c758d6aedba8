import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { metricNamesIn } from '@herald/deploy-checks/promql-metric-names';
import { SPEC_METRICS } from '@herald/deploy-checks/spec-metrics';
import { waitFor } from '@herald/kafka/testing';
import { freePort } from '@herald/test-harness';
import { APPS, REPO_ROOT, startGateway, type AppName, type Gateway } from '../src/gateway';

// The whole gateway as `npm start` runs it (broker, three apps as processes, real Redis), driven
// through its public HTTP APIs: a trace id sent with an ingest request reaches the webhook and the
// SSE event, and afterwards every process's /metrics carries SPEC §8's metrics with their types
// and label sets.
jest.setTimeout(120_000);

const LABELS: Record<keyof typeof SPEC_METRICS, string[]> = {
  herald_ingest_events_total: ['type', 'outcome'],
  herald_http_request_duration_seconds: ['route', 'method', 'status_class'],
  herald_bridge_records_total: ['source', 'outcome'],
  herald_kafka_consumer_lag: ['group', 'topic', 'partition'],
  herald_deliveries_total: ['outcome', 'status_class'],
  herald_delivery_attempt_duration_seconds: [],
  herald_event_delivery_latency_seconds: ['transport'],
  herald_retries_pending: [],
  herald_dead_letters_total: [],
  herald_subscriptions: ['status'],
  herald_stream_connections: ['transport'],
  herald_stream_events_sent_total: ['transport'],
  herald_stream_slow_disconnects_total: [],
};

/** Where each SPEC §8 metric must be served. */
const SERVED_BY: Record<keyof typeof SPEC_METRICS, AppName[]> = {
  herald_ingest_events_total: ['ingest-bridge'],
  herald_http_request_duration_seconds: ['subscription-api', 'ingest-bridge', 'fanout'],
  herald_bridge_records_total: ['ingest-bridge'],
  herald_kafka_consumer_lag: ['ingest-bridge', 'fanout'],
  herald_deliveries_total: ['fanout'],
  herald_delivery_attempt_duration_seconds: ['fanout'],
  herald_event_delivery_latency_seconds: ['fanout'],
  herald_retries_pending: ['fanout'],
  herald_dead_letters_total: ['fanout'],
  herald_subscriptions: ['subscription-api'],
  herald_stream_connections: ['fanout'],
  herald_stream_events_sent_total: ['fanout'],
  herald_stream_slow_disconnects_total: ['fanout'],
};

interface Scrape {
  types: Map<string, string>;
  /** Series name → label names of each sample. */
  samples: Map<string, string[][]>;
}

function parseScrape(text: string): Scrape {
  const types = new Map<string, string>();
  const samples = new Map<string, string[][]>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (sample && !line.startsWith('#')) {
      const labels = [...(sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)].map(
        (m) => m[1]!,
      );
      samples.set(sample[1]!, [...(samples.get(sample[1]!) ?? []), labels]);
    }
  }
  return { types, samples };
}

describe('the gateway end to end', () => {
  let gateway: Gateway;
  let dataDir: string;
  let receiver: Server;
  let receiverUrl: string;
  const received: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ url: request.url ?? '', headers: request.headers, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    dataDir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
    gateway = await startGateway({
      dataDir,
      env: {
        KAFKA_BROKERS: undefined,
        LOG_LEVEL: 'warn',
        // Its own key space in the shared Redis: nothing another run left there reaches it.
        HERALD_REDIS_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
        HERALD_ALLOWED_NETWORKS: '127.0.0.0/8',
      },
      ports: {
        broker: await freePort(),
        'subscription-api': await freePort(),
        'ingest-bridge': await freePort(),
        fanout: await freePort(),
      },
    });
    for (const app of APPS) {
      await waitFor(
        async () =>
          (await fetch(`${gateway.urls[app.name]}/health/ready`).catch(() => undefined))?.status ===
          200,
        { what: `${app.name} ready`, timeoutMs: 60_000, intervalMs: 100 },
      );
    }
  }, 120_000);

  afterAll(async () => {
    await gateway?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('carries a trace id from the ingest request to the webhook request and the SSE event', async () => {
    const auth = {
      authorization: `Bearer ${gateway.adminKey}`,
      'content-type': 'application/json',
    };
    const created = await fetch(`${gateway.urls['subscription-api']}/v1/subscriptions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        kind: 'webhook',
        url: receiverUrl,
        types: ['order.created'],
        verification: 'none',
      }),
    });
    expect(created.status).toBe(201);

    const sse = new AbortController();
    const stream = await fetch(
      `${gateway.urls.fanout}/v1/streams/sse?types=order.created&access_token=${gateway.adminKey}`,
      {
        signal: sse.signal,
      },
    );
    expect(stream.status).toBe(200);
    let sseText = '';
    const reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>)
        sseText += decoder.decode(chunk);
    })().catch(() => undefined);

    const catalog = await fetch(`${gateway.urls['subscription-api']}/v1/event-types`);
    const { items: types } = (await catalog.json()) as {
      items: { type: string; example?: unknown }[];
    };
    const example = types.find((t) => t.type === 'order.created')?.example;
    expect(example).toBeDefined();

    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    // Fanout's group may still be joining: publish again on each poll until one arrives.
    const delivered = await waitFor(
      async () => {
        const found = received.find((r) => r.headers.traceparent === traceparent);
        if (found) return found;
        const published = await fetch(`${gateway.urls['ingest-bridge']}/v1/events/order.created`, {
          method: 'POST',
          headers: { ...auth, traceparent },
          body: JSON.stringify(example),
        });
        expect(published.status).toBe(202);
        return undefined;
      },
      { what: 'the traced event at the webhook receiver', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(delivered.headers['webhook-id']).toBeDefined();

    await waitFor(() => sseText.includes(traceparent), {
      what: 'the traced event on SSE',
      timeoutMs: 30_000,
    });
    const data = sseText
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => JSON.parse(line.slice(5)) as Record<string, unknown>);
    expect(
      data.some((event) => event.traceparent === traceparent && event.type === 'order.created'),
    ).toBe(true);
    sse.abort();
    await reading;
  });

  it('backfills a webhook created with from: earliest as a replay, then goes on live', async () => {
    const auth = {
      authorization: `Bearer ${gateway.adminKey}`,
      'content-type': 'application/json',
    };
    const catalog = await fetch(`${gateway.urls['subscription-api']}/v1/event-types`);
    const { items: types } = (await catalog.json()) as {
      items: { type: string; example?: unknown }[];
    };
    const example = types.find((t) => t.type === 'order.created')?.example;
    const publish = async (id: string) => {
      const published = await fetch(`${gateway.urls['ingest-bridge']}/v1/events/order.created`, {
        method: 'POST',
        headers: { ...auth, 'ce-id': id },
        body: JSON.stringify(example),
      });
      expect(published.status).toBe(202);
    };
    const before = Array.from({ length: 5 }, (_, i) => `backfill-${randomUUID()}-${i}`);
    for (const id of before) await publish(id);

    const path = `/backfill-${randomUUID().slice(0, 8)}`;
    const created = await fetch(`${gateway.urls['subscription-api']}/v1/subscriptions`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        kind: 'webhook',
        url: receiverUrl.replace('/hook', path),
        types: ['order.created'],
        verification: 'none',
        from: 'earliest',
      }),
    });
    expect(created.status).toBe(201);
    const here = () => received.filter((r) => r.url === path);
    await waitFor(() => before.every((id) => here().some((r) => r.headers['webhook-id'] === id)), {
      what: 'the events published before the subscription',
      timeoutMs: 60_000,
    });
    for (const id of before) {
      const copies = here().filter((r) => r.headers['webhook-id'] === id);
      expect(copies).toHaveLength(1);
      expect(copies[0]!.headers['herald-replay']).toBe('true');
    }

    const after = `live-${randomUUID()}`;
    await publish(after);
    const live = await waitFor(() => here().find((r) => r.headers['webhook-id'] === after), {
      what: 'the event published after the subscription',
      timeoutMs: 30_000,
    });
    expect(live.headers['herald-replay']).toBeUndefined();
    // Nothing from before came twice (once by the backfill and again live).
    const ids = here().map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('serves every SPEC §8 metric with its type and bounded label set', async () => {
    const scrapes = new Map<AppName, Scrape>();
    for (const app of APPS)
      scrapes.set(
        app.name,
        parseScrape(await (await fetch(`${gateway.urls[app.name]}/metrics`)).text()),
      );
    for (const [metric, type] of Object.entries(SPEC_METRICS) as [
      keyof typeof SPEC_METRICS,
      string,
    ][]) {
      for (const app of SERVED_BY[metric]) {
        const scrape = scrapes.get(app)!;
        expect({ app, metric, type: scrape.types.get(metric) }).toEqual({ app, metric, type });
        const series = type === 'histogram' ? `${metric}_count` : metric;
        for (const labels of scrape.samples.get(series) ?? []) {
          expect({ app, metric, labels: labels.filter((l) => l !== 'service').sort() }).toEqual({
            app,
            metric,
            labels: [...LABELS[metric]].sort(),
          });
        }
      }
    }
    // The scenario above produced samples, not only declarations.
    expect(
      scrapes.get('ingest-bridge')!.samples.get('herald_ingest_events_total')?.length,
    ).toBeGreaterThan(0);
    expect(scrapes.get('fanout')!.samples.get('herald_deliveries_total')?.length).toBeGreaterThan(
      0,
    );
    for (const app of APPS)
      expect(scrapes.get(app.name)!.types.get('process_cpu_user_seconds_total')).toBe('counter');

    // Every metric the Grafana dashboard queries is one these processes serve.
    const served = new Set<string>();
    for (const scrape of scrapes.values()) {
      for (const [name, type] of scrape.types) {
        served.add(name);
        if (type === 'histogram')
          for (const suffix of ['_bucket', '_sum', '_count']) served.add(`${name}${suffix}`);
      }
    }
    const dashboard = readFileSync(
      join(REPO_ROOT, 'deploy/grafana/dashboards/herald-overview.json'),
      'utf8',
    );
    const expressions = [...dashboard.matchAll(/"expr":\s*"((?:[^"\\]|\\.)*)"/g)].map(
      (m) => JSON.parse(`"${m[1]!}"`) as string,
    );
    expect(expressions.length).toBeGreaterThan(10);
    const unserved = [...new Set(expressions.flatMap(metricNamesIn))].filter(
      (name) => !served.has(name),
    );
    expect(unserved).toEqual([]);
  });
});
