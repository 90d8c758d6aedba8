/** The one place a partition's key in broker-side maps is built. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Wakes long-polling fetches when data is appended to (or a topic removed from) a partition they watch. */
export class AppendSignal {
  private readonly waiters = new Map<string, Set<() => void>>();

  notify(topic: string, partition: number): void {
    const set = this.waiters.get(partitionKey(topic, partition));
    if (!set) return;
    for (const wake of [...set]) wake();
  }

  /** Resolves on the first append to any of `keys`, after `timeoutMs`, or when `signal` aborts. */
  wait(keys: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted || timeoutMs <= 0) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        for (const key of keys) {
          const set = this.waiters.get(key);
          if (!set) continue;
          set.delete(done);
          if (set.size === 0) this.waiters.delete(key);
        }
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      for (const key of keys) {
        let set = this.waiters.get(key);
        if (!set) {
          set = new Set();
          this.waiters.set(key, set);
        }
        set.add(done);
      }
    });
  }
}
