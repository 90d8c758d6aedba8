// Applies the fsync policy: what an append waits for before it is acknowledged, and the timer that
// flushes in the background under the interval policy.
import type { FsyncPolicy } from './storage.types';

/** Anything whose writes can be forced to disk. */
export interface Syncable {
  sync(): Promise<void>;
}

export class FsyncScheduler {
  private readonly dirty = new Set<Syncable>();
  private readonly timer: NodeJS.Timeout | null = null;

  constructor(
    readonly policy: FsyncPolicy,
    private readonly onError: (error: Error) => void,
  ) {
    if (policy.mode === 'interval') {
      this.timer = setInterval(() => void this.flush(), policy.intervalMs);
      // The broker decides when the process ends; a pending flush must not keep it alive.
      this.timer.unref();
    }
  }

  /** After a write to `target`: the promise to wait for before acknowledging, or null for none. */
  afterWrite(target: Syncable): Promise<void> | null {
    switch (this.policy.mode) {
      case 'always':
        return target.sync();
      case 'interval':
        this.dirty.add(target);
        return null;
      case 'never':
        return null;
    }
  }

  /** Forces every write still pending under the interval policy; failures go to `onError`. */
  async flush(): Promise<void> {
    const targets = [...this.dirty];
    this.dirty.clear();
    const results = await Promise.allSettled(targets.map((target) => target.sync()));
    for (const result of results) {
      if (result.status === 'rejected') this.onError(toError(result.reason));
    }
  }

  forget(target: Syncable): void {
    this.dirty.delete(target);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
