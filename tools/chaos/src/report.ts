import { percentile, type ScenarioReport } from './scenario';

const MIB = 1024 * 1024;

/** A Markdown table padded the way Prettier formats one, so results files stay unchanged by it. */
export function table(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [header, ...rows].map((row) => row.map((cell) => String(cell)));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: readonly string[]): string =>
    `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`,
    ...cells.slice(1).map(line),
  ].join('\n');
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? '–' : `${(bytes / MIB).toFixed(0)} MiB`;
}

function latencySummary(buckets: ReadonlyMap<number, number[]>): string {
  const all = [...buckets.values()].flat().sort((a, b) => a - b);
  if (all.length === 0) return 'no samples';
  return `p50 ${percentile(all, 50)} ms, p99 ${percentile(all, 99)} ms, max ${all[all.length - 1]} ms (${all.length} samples)`;
}

/** The report of a chaos (or soak) run as Markdown tables, the way the CLI prints it. */
export function formatReport(report: ScenarioReport): string {
  const out: string[] = [];
  const { ingest } = report;
  out.push(
    `## Herald ${report.profile} run ${report.runId} (seed ${report.seed}, ${report.rate} events/s)`,
    '',
    `Started ${report.startedAt}; wall ${report.wallSeconds.toFixed(0)} s (publishing ${report.publishSeconds.toFixed(0)} s, draining ${report.drainSeconds.toFixed(0)} s${report.drained ? '' : ', did not settle'}).`,
    '',
    table(
      ['ingest', 'count'],
      [
        ['events planned', ingest.planned],
        ['accepted over HTTP (202/200)', ingest.acceptedHttp],
        ['accepted on the source topic (kitchen.raw)', ingest.acceptedSource],
        [
          'not accepted (refused or gave up)',
          ingest.notAccepted === 0
            ? 0
            : `${ingest.notAccepted} (last answer: ${ingest.notAcceptedAnswers})`,
        ],
        ['accepted but not on the channel topic (must be 0)', ingest.acceptedNotInKafka],
        [
          'extra copies on the channel topics (retried writes, bridge redone)',
          ingest.extraKafkaCopies,
        ],
      ],
    ),
    '',
    table(
      [
        'subscription',
        'tenant',
        'receiver',
        'status',
        'expected',
        'delivered',
        'dead-lettered',
        'missing',
        'order violations',
        'duplicates',
        'cross-tenant',
        'after 410',
        'herald.* events',
      ],
      report.subscriptions.map((s) => [
        s.name,
        s.tenant,
        s.behaviour,
        s.status,
        s.expected,
        s.delivered,
        s.deadLettered,
        s.missing,
        s.orderViolations,
        s.duplicates,
        s.crossTenant,
        s.notDeliveredAfterDisable,
        s.operationalEvents,
      ]),
    ),
    '',
    table(
      [
        'stream',
        'tenant',
        'types',
        'expected',
        'received',
        'gaps',
        'repeats',
        'resumed',
        'ended by the server',
        'cross-tenant',
      ],
      report.streams.map((s) => [
        `${s.transport}`,
        s.tenant,
        s.types,
        s.refused
          ? `refused (${s.refused})`
          : s.stoppedBy
            ? `stopped (${s.stoppedBy})`
            : s.expected,
        s.received,
        s.gaps,
        s.repeats,
        s.resumes,
        s.ends || '–',
        s.crossTenant,
      ]),
    ),
    '',
    table(
      ['cross-tenant probe', 'result'],
      report.probes.map((p) => [p.what, p.ok ? `ok (${p.detail})` : `FAILED (${p.detail})`]),
    ),
    '',
  );
  if (report.faults.length > 0)
    out.push(
      table(
        ['fault (SIGKILL + restart)', 'at', 'down'],
        report.faults.map((f) => [
          f.error ? `${f.target} (restart failed: ${f.error})` : f.target,
          `${f.at.toFixed(1)} s`,
          `${(f.downMs / 1000).toFixed(1)} s`,
        ]),
      ),
      '',
    );
  out.push(
    table(
      ['process', 'peak RSS'],
      Object.entries(report.peakMemoryBytes).map(([name, bytes]) => [name, mib(bytes)]),
    ),
    '',
    `Latency, publish to receipt: webhooks ${latencySummary(report.webhookLatency)}; streams ${latencySummary(report.streamLatency)}.`,
    '',
  );
  const examples = [
    ...report.subscriptions.flatMap((s) => s.examples.map((e) => `${s.name}: ${e}`)),
    ...report.streams.flatMap((s) => s.examples.map((e) => `${s.name}: ${e}`)),
  ];
  if (examples.length > 0)
    out.push('Examples:', '', ...examples.slice(0, 30).map((e) => `- ${e}`), '');
  out.push(
    report.failures.length === 0
      ? 'PASSED: zero missing, zero order violations, zero cross-tenant deliveries, zero stream gaps or repeats.'
      : `FAILED:\n${report.failures.map((f) => `- ${f}`).join('\n')}`,
  );
  return out.join('\n');
}
