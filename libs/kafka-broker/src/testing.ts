// Test kit: one broker per test file on a free port, plus small helpers for naming and waiting.
import { randomUUID } from 'node:crypto';
import { startBroker, type RunningBroker } from './broker';
import type { BrokerOptions } from './broker.options';
import { createJsonLogger, silentLogger, type BrokerLogger } from './broker.logger';

export type { RunningBroker } from './broker';

/**
 * Starts an in-memory broker on a free port, quiet unless `HERALD_BROKER_LOG` is set in the test
 * process (then it logs JSON lines to stderr). Stop it in `afterAll`.
 */
export function startTestBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
  return startBroker({ port: 0, initialRebalanceDelayMs: 0, logger: testLogger(), ...options });
}

function testLogger(): BrokerLogger {
  // Only the kit reads this switch: tests opt into broker logs when debugging.
  return process.env['HERALD_BROKER_LOG'] ? createJsonLogger() : silentLogger;
}

/** A topic or group name no other test uses: `prefix-<random>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  {
    timeoutMs = 15_000,
    intervalMs = 20,
    what = 'condition',
  }: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
