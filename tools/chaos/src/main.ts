import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FAULT_TARGETS, type FaultTarget } from './fault-injector';
import { formatReport } from './report';
import { percentile, runScenario, type ScenarioOptions, type ScenarioReport } from './scenario';
import { formatSoak, memoryTrends } from './soak-analysis';

const HERALD_PROCESSES = ['subscription-api', 'ingest-bridge', 'fanout'];

const USAGE = `usage: npm run chaos -- [options]

  (default)          the short chaos run: 100 events/s for 60 s with faults, about 2 minutes
  --long             a long chaos run: 10 minutes of publishing with faults
  --soak             soak mode: a steady rate for an hour, no faults; memory and latency over time
  --events N         events to publish (default: rate × duration)
  --rate R           events per second (default 100)
  --duration D       how long to publish: 90s, 10m, 1h (default 60s; --long 10m; --soak 60m)
  --faults on|off    SIGKILL and restart every process while publishing (default on; --soak off)
  --fault-count N    faults to inject (default: one per 12 s of publishing, at least 5)
  --fault-targets L  only these, comma-separated (fanout,ingest-bridge,subscription-api,broker,redis)
  --seed S           seed of the fault schedule (default: random)
  --keys K           partition keys (default 200)
  --drain D          longest wait for everything to settle after publishing (default 60s)
  --out FILE         also write the report (Markdown) to FILE
  --keep             keep the data folder (logs, broker and Redis files) even when the run passed
`;

export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${text} (expected e.g. 90s, 10m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's']!;
  return Number(match[1]) * unit;
}

function faultTargets(list: string): FaultTarget[] {
  const targets = list.split(',').map((t) => t.trim());
  for (const target of targets)
    if (!(FAULT_TARGETS as readonly string[]).includes(target))
      throw new Error(`--fault-targets: ${target} is not one of ${FAULT_TARGETS.join(', ')}`);
  return targets as FaultTarget[];
}

export interface CliOptions extends Omit<ScenarioOptions, 'log'> {
  readonly out: string | undefined;
}

const SWITCHES = ['long', 'soak', 'keep', 'help'];
const VALUED = [
  'events',
  'rate',
  'duration',
  'faults',
  'fault-count',
  'fault-targets',
  'seed',
  'keys',
  'drain',
  'out',
];

export function parseArguments(argv: readonly string[]): CliOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (SWITCHES.includes(name)) flags.set(name, 'true');
    else if (VALUED.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
    } else throw new Error(`unknown --${name}`);
  }
  if (flags.has('help')) throw new Error('help');
  const soak = flags.has('soak');
  const rate = Number(flags.get('rate') ?? 100);
  if (!(rate > 0)) throw new Error('--rate must be a positive number');
  const durationMs = parseDuration(
    flags.get('duration') ?? (soak ? '60m' : flags.has('long') ? '10m' : '60s'),
  );
  const events = Number(flags.get('events') ?? Math.round((rate * durationMs) / 1000));
  if (!Number.isInteger(events) || events < 1)
    throw new Error('--events must be a positive integer');
  const faults = flags.get('faults') ?? (soak ? 'off' : 'on');
  if (faults !== 'on' && faults !== 'off') throw new Error('--faults must be on or off');
  return {
    events,
    rate,
    faults: faults === 'on',
    ...(flags.has('fault-count') ? { faultCount: Number(flags.get('fault-count')) } : {}),
    ...(flags.has('fault-targets')
      ? { faultTargets: faultTargets(flags.get('fault-targets')!) }
      : {}),
    seed: Number(flags.get('seed') ?? Math.floor(Math.random() * 2 ** 31)),
    keys: Number(flags.get('keys') ?? 200),
    profile: soak ? 'soak' : 'chaos',
    drainTimeoutMs: parseDuration(flags.get('drain') ?? (soak ? '180s' : '60s')),
    sampleIntervalMs: soak ? 10_000 : 1000,
    keep: flags.has('keep'),
    out: flags.get('out'),
  };
}

/** The report as JSON, latencies summarised per minute rather than listed one by one. */
function reportJson(report: ScenarioReport): string {
  const perMinute = (buckets: ReadonlyMap<number, number[]>) =>
    Object.fromEntries(
      [...buckets].map(([minute, samples]) => {
        const sorted = [...samples].sort((a, b) => a - b);
        return [
          minute,
          {
            count: sorted.length,
            p50: percentile(sorted, 50),
            p99: percentile(sorted, 99),
            max: sorted[sorted.length - 1],
          },
        ];
      }),
    );
  return JSON.stringify(
    {
      ...report,
      webhookLatency: perMinute(report.webhookLatency),
      streamLatency: perMinute(report.streamLatency),
      publishedPerMinute: Object.fromEntries(report.publishedPerMinute),
    },
    null,
    2,
  );
}

async function main(): Promise<void> {
  let options: CliOptions;
  try {
    options = parseArguments(process.argv.slice(2));
  } catch (error) {
    const message = (error as Error).message;
    process.stderr.write(message === 'help' ? USAGE : `${message}\n\n${USAGE}`);
    process.exit(message === 'help' ? 0 : 64);
  }
  const say = (message: string): void =>
    void process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  const report = await runScenario({
    ...options,
    log: say,
    onMinute: (minute, progress) =>
      say(
        `minute ${minute}: ${progress.published} published, ${progress.accepted} accepted, ${progress.delivered} delivered`,
      ),
  });
  let text = formatReport(report);
  if (report.profile === 'soak') {
    const trends = memoryTrends(report);
    // Redis and the broker hold data by design (idempotency keys for 24 h, the delivery log, the
    // Kafka log's index), so their growth is reported but only Herald's own processes fail on it.
    for (const trend of trends)
      if (trend.growing && HERALD_PROCESSES.includes(trend.process))
        report.failures.push(`${trend.process}: memory kept growing`);
    text = `${formatReport(report)}\n\n### Over time\n\n${formatSoak(report, trends)}\n`;
    const dir = resolve(__dirname, '../results');
    mkdirSync(dir, { recursive: true });
    const stamp = report.startedAt.slice(0, 16).replace(/[:T]/g, '-');
    writeFileSync(join(dir, `soak-${stamp}.md`), `${text}\n`);
    writeFileSync(join(dir, `soak-${stamp}.json`), `${reportJson(report)}\n`);
    say(`soak results in ${join(dir, `soak-${stamp}.md`)} and .json`);
  }
  process.stdout.write(`\n${text}\n`);
  if (options.out) writeFileSync(options.out, `${text}\n`);
  process.exit(report.failures.length === 0 ? 0 : 1);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  });
}
