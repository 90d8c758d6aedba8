import { startRedisServer } from '@herald/test-harness';
import type { Gateway } from '@herald/dev/src/gateway';
import { sleep, waitUntil, type SeededRandom } from './random';

export const FAULT_TARGETS = [
  'fanout',
  'ingest-bridge',
  'subscription-api',
  'broker',
  'redis',
] as const;
export type FaultTarget = (typeof FAULT_TARGETS)[number];

/** One SIGKILL and restart, as the report lists it. */
export interface FaultRecord {
  readonly target: FaultTarget;
  /** Seconds since the run started. */
  readonly at: number;
  /** How long it was down, kill to ready again (ms). */
  downMs: number;
  error?: string;
}

/** A redis-server of the run's own (append-only, on a fixed port), so it can be killed and restarted. */
export class RestartableRedis {
  private server: Awaited<ReturnType<typeof startRedisServer>> | undefined;

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.server?.pid;
  }

  async start(): Promise<void> {
    this.server = await startRedisServer({ port: this.port, dir: this.dir, appendOnly: true });
  }

  async kill(): Promise<void> {
    const pid = this.server?.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !alive(pid), 10_000, 50);
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills one process of the gateway with SIGKILL at a time and starts it again on the same port
 * and data: each app, the broker (file-backed, same folder) and Redis (append-only, same folder).
 */
export class FaultInjector {
  readonly faults: FaultRecord[] = [];

  constructor(
    private readonly gateway: Gateway,
    private readonly redis: RestartableRedis,
    private readonly random: SeededRandom,
    private readonly startedAt: number,
    private readonly log: (message: string) => void,
  ) {}

  async inject(target: FaultTarget): Promise<FaultRecord> {
    const record: FaultRecord = {
      target,
      at: (Date.now() - this.startedAt) / 1000,
      downMs: 0,
    };
    this.faults.push(record);
    const killedAt = Date.now();
    this.log(`fault: SIGKILL ${target} at ${record.at.toFixed(1)} s`);
    try {
      if (target === 'redis') {
        await this.redis.kill();
        await sleep(this.random.between(200, 1500));
        await this.redis.start();
      } else {
        const managed = this.gateway.processes.get(target);
        if (!managed) throw new Error(`the gateway has no ${target} process`);
        await managed.kill();
        await sleep(this.random.between(200, 1500));
        await managed.start();
      }
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
      this.log(`fault: restarting ${target} failed: ${record.error}`);
    }
    record.downMs = Date.now() - killedAt;
    this.log(`fault: ${target} back after ${(record.downMs / 1000).toFixed(1)} s`);
    return record;
  }

  /**
   * Kills `count` times within `windowMs` from now: the window is cut into `count` equal slots
   * and each fault strikes at a random moment of its slot, on the next target of a shuffled cycle
   * through all of them (so each is hit once before any is hit twice). A fault does not wait for
   * the previous one to recover, so outages overlap (the broker may die while fanout restarts);
   * only the same target is never killed again before it is back.
   */
  async runSchedule(
    windowMs: number,
    count: number,
    targets: readonly FaultTarget[] = FAULT_TARGETS,
  ): Promise<void> {
    const began = Date.now();
    const slot = windowMs / count;
    const pending = new Map<FaultTarget, Promise<unknown>>();
    const all: Promise<unknown>[] = [];
    let cycle: FaultTarget[] = [];
    for (let i = 0; i < count; i++) {
      if (cycle.length === 0) cycle = this.random.shuffle(targets);
      const target = cycle.shift()!;
      const at = began + slot * i + this.random.between(0.1, 0.9) * slot;
      await sleep(Math.max(0, at - Date.now()));
      const fault = (pending.get(target) ?? Promise.resolve()).then(() => this.inject(target));
      pending.set(target, fault);
      all.push(fault);
    }
    await Promise.all(all);
  }
}
