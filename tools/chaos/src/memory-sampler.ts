import { readFileSync } from 'node:fs';

/** One RSS reading of one process. */
export interface MemorySample {
  /** Seconds since the sampler started. */
  readonly t: number;
  readonly rssBytes: number;
}

/** Resident set size and its high-water mark (bytes) from `/proc/<pid>/status`; undefined when gone. */
export function readMemory(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string): number => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return match ? Number(match[1]) * 1024 : 0;
    };
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/**
 * Samples the RSS of named processes every `intervalMs`, following restarts (the pid is asked
 * for at each sample). Keeps each process's series and its peak (VmHWM, so spikes between
 * samples count too).
 */
export class MemorySampler {
  readonly series = new Map<string, MemorySample[]>();
  readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly processes: () => { name: string; pid: number | undefined }[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  sample(): void {
    const t = (Date.now() - this.startedAt) / 1000;
    for (const { name, pid } of this.processes()) {
      if (pid === undefined) continue;
      const memory = readMemory(pid);
      if (!memory || memory.rss === 0) continue;
      let series = this.series.get(name);
      if (!series) this.series.set(name, (series = []));
      series.push({ t, rssBytes: memory.rss });
      this.peaks.set(name, Math.max(this.peaks.get(name) ?? 0, memory.hwm, memory.rss));
    }
  }
}
