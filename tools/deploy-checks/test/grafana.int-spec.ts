import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { metricNamesIn } from '../src/promql-metric-names';
import { isKnownHeraldSeries, specMetricOf } from '../src/spec-metrics';

// The dashboard is bound to metric names: one renamed in code, or mistyped here, leaves a
// panel silently empty. Every name must be one of SPEC §8's, one of OPERATIONS_METRICS (held to
// the code that registers it by prometheus.int-spec.ts) or a default process metric.

const ROOT = path.resolve(__dirname, '../../..');
const GRAFANA_DIR = path.join(ROOT, 'deploy/grafana');

interface Target {
  expr: string;
  datasource: { uid: string };
}
interface Panel {
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
  datasource?: { uid: string };
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; current: { value: string } }[] };
}

const dashboard = JSON.parse(
  readFileSync(path.join(GRAFANA_DIR, 'dashboards/herald-overview.json'), 'utf8'),
) as Dashboard;
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = panels.filter((p) => p.type !== 'row');

it('queries only SPEC §8 metrics and default process metrics', () => {
  const used = new Set(
    queryPanels.flatMap((p) => p.targets!.flatMap((t) => metricNamesIn(t.expr))),
  );
  expect([...used].filter((name) => !isKnownHeraldSeries(name))).toEqual([]);
  expect(used.size).toBeGreaterThan(10);
});

it('has a panel for each thing SREs look at', () => {
  const metricsOf = (title: RegExp) => {
    const panel = queryPanels.find((p) => title.test(p.title));
    expect([title, panel]).not.toEqual([title, undefined]);
    return panel!.targets!.map((t) => t.expr).join('\n');
  };
  expect(metricsOf(/^Accepted events by type$/)).toMatch(
    /sum by \(type\).*herald_ingest_events_total/,
  );
  expect(metricsOf(/^Rejections by type/)).toMatch(
    /by \(type, outcome\).*herald_ingest_events_total/,
  );
  expect(metricsOf(/delivery success ratio/i)).toMatch(
    /herald_deliveries_total\{outcome="delivered"\}.*\/.*herald_deliveries_total/,
  );
  const latency = metricsOf(/latency p50 \/ p99 by transport/);
  expect(latency).toContain('histogram_quantile(0.5, sum by (le, transport)');
  expect(latency).toContain('histogram_quantile(0.99, sum by (le, transport)');
  expect(latency).toContain('herald_event_delivery_latency_seconds_bucket');
  expect(metricsOf(/^Consumer lag by group and topic$/)).toContain('herald_kafka_consumer_lag');
  expect(metricsOf(/^Retries pending$/)).toContain('herald_retries_pending');
  expect(metricsOf(/^Dead letters$/)).toContain('herald_dead_letters_total');
  expect(metricsOf(/^Stream connections/)).toContain('herald_stream_connections');
  expect(metricsOf(/memory/i)).toContain('process_resident_memory_bytes');
  expect(metricsOf(/event-loop lag/i)).toContain('nodejs_eventloop_lag_p99_seconds');
  expect(metricsOf(/^Stream gaps told by transport$/)).toContain('herald_stream_gaps_total');
  expect(metricsOf(/^Stream filter errors by transport$/)).toContain(
    'herald_stream_filter_errors_total',
  );
  expect(metricsOf(/^Webhooks whose secrets cannot be used$/)).toContain(
    'herald_subscriptions_secrets_unusable',
  );
  expect(metricsOf(/^Fetch linger share by group$/)).toContain(
    'herald_kafka_consumer_fetch_linger_seconds_total',
  );
});

it('covers every SPEC §8 metric in some panel', () => {
  const used = new Set(
    queryPanels.flatMap((p) => p.targets!.flatMap((t) => metricNamesIn(t.expr).map(specMetricOf))),
  );
  used.delete(null);
  expect(used.size).toBe(13);
});

it('uses the provisioned Prometheus datasource by default', () => {
  const provisioned = parse(
    readFileSync(path.join(GRAFANA_DIR, 'provisioning/datasources/prometheus.yml'), 'utf8'),
  ) as { datasources: { uid: string; type: string; url: string }[] };
  const [datasource] = provisioned.datasources;
  expect(datasource).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
  const variable = dashboard.templating.list.find((v) => v.type === 'datasource')!;
  expect(variable.current.value).toBe(datasource!.uid);
  for (const panel of queryPanels) {
    expect(panel.datasource?.uid).toBe(`\${${variable.name}}`);
    for (const target of panel.targets!) expect(target.datasource.uid).toBe(`\${${variable.name}}`);
  }
});
