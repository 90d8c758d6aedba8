import type { MemorySample } from './memory-sampler';
import { table } from './report';
import { percentile, type ScenarioReport } from './scenario';

const MIB = 1024 * 1024;

/** Whether a process's memory kept growing during the soak, and the numbers behind the verdict. */
export interface MemoryTrend {
  readonly process: string;
  readonly samples: number;
  /** Mean RSS of the second quarter and the last quarter of the run (bytes). */
  readonly secondQuarterMean: number;
  readonly lastQuarterMean: number;
  /** Least-squares slope of RSS over the second half, in bytes per hour. */
  readonly slopePerHour: number;
  readonly growing: boolean;
}

/**
 * The growth rule. The first half of a run is warm-up (JIT, pools, caches and Redis filling);
 * over the second half a process fails when both:
 * - its RSS rises at more than 10 % of its second-half mean per hour (least-squares slope), and
 * - the last quarter's mean RSS is more than 5 % (and 8 MiB) above the second quarter's.
 * Needing both keeps one late spike (garbage collection timing) or a flat series with noise from
 * failing the soak, while a steady leak of a few MiB per ten minutes trips both.
 */
export function memoryTrend(process: string, series: readonly MemorySample[]): MemoryTrend {
  const end = series.length > 0 ? series[series.length - 1]!.t : 0;
  const between = (from: number, to: number) =>
    series.filter((s) => s.t >= from * end && s.t <= to * end);
  const mean = (samples: readonly MemorySample[]) =>
    samples.length === 0 ? 0 : samples.reduce((sum, s) => sum + s.rssBytes, 0) / samples.length;
  const secondHalf = between(0.5, 1);
  const xMean = secondHalf.reduce((sum, s) => sum + s.t, 0) / Math.max(1, secondHalf.length);
  const yMean = mean(secondHalf);
  let numerator = 0;
  let denominator = 0;
  for (const s of secondHalf) {
    numerator += (s.t - xMean) * (s.rssBytes - yMean);
    denominator += (s.t - xMean) ** 2;
  }
  const slopePerHour = denominator === 0 ? 0 : (numerator / denominator) * 3600;
  const secondQuarterMean = mean(between(0.25, 0.5));
  const lastQuarterMean = mean(between(0.75, 1));
  const growing =
    secondHalf.length >= 8 &&
    slopePerHour > 0.1 * yMean &&
    lastQuarterMean > secondQuarterMean * 1.05 &&
    lastQuarterMean - secondQuarterMean > 8 * MIB;
  return {
    process,
    samples: series.length,
    secondQuarterMean,
    lastQuarterMean,
    slopePerHour,
    growing,
  };
}

export function memoryTrends(report: ScenarioReport): MemoryTrend[] {
  return Object.entries(report.memorySeries).map(([name, series]) => memoryTrend(name, series));
}

function ms(value: number): string {
  return Number.isNaN(value) ? '–' : String(Math.round(value));
}

/** The soak's time series as Markdown: one row per minute, then the memory verdict per process. */
export function formatSoak(report: ScenarioReport, trends: readonly MemoryTrend[]): string {
  const processes = Object.keys(report.memorySeries);
  const minutes = Math.max(
    0,
    ...report.publishedPerMinute.keys(),
    ...report.webhookLatency.keys(),
    ...report.streamLatency.keys(),
  );
  const header = [
    'minute',
    'published',
    'webhook p50 ms',
    'webhook p99 ms',
    'stream p50 ms',
    'stream p99 ms',
    ...processes.map((p) => `${p} RSS MiB`),
  ];
  const rows: (string | number)[][] = [];
  // Memory samples are timed from when sampling started, which is close to when publishing did.
  for (let minute = 0; minute <= minutes; minute++) {
    const webhooks = [...(report.webhookLatency.get(minute) ?? [])].sort((a, b) => a - b);
    const stream = [...(report.streamLatency.get(minute) ?? [])].sort((a, b) => a - b);
    const rss = processes.map((p) => {
      const inMinute = report.memorySeries[p]!.filter(
        (s) => s.t >= minute * 60 && s.t < (minute + 1) * 60,
      );
      if (inMinute.length === 0) return '–';
      return (inMinute.reduce((sum, s) => sum + s.rssBytes, 0) / inMinute.length / MIB).toFixed(0);
    });
    rows.push([
      minute,
      report.publishedPerMinute.get(minute) ?? 0,
      ms(percentile(webhooks, 50)),
      ms(percentile(webhooks, 99)),
      ms(percentile(stream, 50)),
      ms(percentile(stream, 99)),
      ...rss,
    ]);
  }
  const verdicts = trends.map((t) => [
    t.process,
    t.samples,
    (t.secondQuarterMean / MIB).toFixed(0),
    (t.lastQuarterMean / MIB).toFixed(0),
    (t.slopePerHour / MIB).toFixed(1),
    t.growing ? 'GROWING' : 'flat',
  ]);
  return [
    table(header, rows),
    '',
    table(
      [
        'process',
        'samples',
        '2nd-quarter mean MiB',
        'last-quarter mean MiB',
        '2nd-half slope MiB/h',
        'verdict',
      ],
      verdicts,
    ),
  ].join('\n');
}
