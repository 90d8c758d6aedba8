import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { metricNamesIn } from '../src/promql-metric-names';
import { isKnownHeraldSeries, OPERATIONS_METRICS } from '../src/spec-metrics';

// promtool (Debian package `prometheus`; .ci/run installs it) checks the files the way
// Prometheus loads them, and runs the alert unit tests in alerts.test.yml.

const ROOT = path.resolve(__dirname, '../../..');
const PROMETHEUS_DIR = path.join(ROOT, 'deploy/prometheus');

function promtool(...args: string[]) {
  const result = spawnSync('promtool', args, { cwd: PROMETHEUS_DIR, encoding: 'utf8' });
  if (result.error)
    throw new Error(`promtool could not run (${result.error.message}): apt-get install prometheus`);
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

interface Rule {
  alert?: string;
  expr: string;
  annotations?: Record<string, string>;
}
const rules = (
  parse(readFileSync(path.join(PROMETHEUS_DIR, 'alerts.yml'), 'utf8')) as {
    groups: { rules: Rule[] }[];
  }
).groups.flatMap((group) => group.rules);

it('promtool accepts the alert rules', () => {
  const { status, output } = promtool('check', 'rules', 'alerts.yml');
  expect(output).toContain('SUCCESS');
  expect(status).toBe(0);
});

it('promtool accepts the scrape configuration (and the rule files it names)', () => {
  const { status, output } = promtool('check', 'config', 'prometheus.yml');
  expect(output).toContain('is valid prometheus config file syntax');
  expect(status).toBe(0);
});

it('the alert unit tests pass', () => {
  const { status, output } = promtool('test', 'rules', 'alerts.test.yml');
  expect(output).toContain('SUCCESS');
  expect(status).toBe(0);
});

it('scrapes the three apps on their SPEC §1 ports, under the job names the alerts use', () => {
  const config = parse(readFileSync(path.join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const jobs = Object.fromEntries(
    config.scrape_configs.map((job) => [
      job.job_name,
      job.static_configs.flatMap((s) => s.targets),
    ]),
  );
  expect(jobs).toMatchObject({
    'herald-subscription-api': ['subscription-api:3000'],
    'herald-ingest-bridge': ['ingest-bridge:3001'],
    'herald-fanout': ['fanout:3002'],
  });
});

it('has the alerts SREs asked for', () => {
  const alerts = rules.map((rule) => rule.alert);
  for (const name of [
    'HeraldProcessDown',
    'HeraldConsumerLagGrowing',
    'HeraldDeadLettersRising',
    'HeraldDeliverySuccessLow',
    'HeraldIngestStopped',
    'HeraldReadinessFlapping',
    'HeraldEventLoopLagHigh',
    'HeraldMemoryHigh',
    'HeraldSubscriptionSecretsUnusable',
    'HeraldStreamGapsRecurring',
  ])
    expect(alerts).toContain(name);
});

it.each(rules.map((rule) => [rule.alert ?? '?', rule] as const))(
  '%s uses only metrics Herald exports, and links its runbook',
  (alert, rule) => {
    // `up` is Prometheus's own per-target series; everything else must be a SPEC §8 metric.
    const unknown = metricNamesIn(rule.expr).filter(
      (name) => name !== 'up' && !isKnownHeraldSeries(name),
    );
    expect(unknown).toEqual([]);
    const operations = readFileSync(path.join(ROOT, 'docs/operations.md'), 'utf8');
    expect(rule.annotations?.runbook).toBe(`docs/operations.md#${alert.toLowerCase()}`);
    expect(operations).toMatch(new RegExp(`^#{2,4} ${alert}$`, 'm'));
  },
);

it.each(Object.entries(OPERATIONS_METRICS))(
  '%s, used beyond SPEC §8, is registered under that name in %s',
  (metric, file) => {
    expect(readFileSync(path.join(ROOT, file), 'utf8')).toContain(`'${metric}'`);
  },
);
