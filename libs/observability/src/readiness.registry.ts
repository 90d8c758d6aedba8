/** A dependency the process needs to do its work (Kafka, Redis); it resolves when usable, rejects otherwise. */
export type ReadinessCheck = () => Promise<void>;

/**
 * Where the modules of a process register what readiness depends on. The health controller runs
 * every check with a timeout; during shutdown readiness is down whatever the checks say.
 */
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private shuttingDown = false;

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  entries(): [string, ReadinessCheck][] {
    return [...this.checks.entries()];
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}
