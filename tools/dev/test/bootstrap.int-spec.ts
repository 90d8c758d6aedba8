import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startTestBroker, waitFor, type RunningBroker } from '@herald/kafka/testing';
import { freePort } from '@herald/test-harness';
import { APPS, REPO_ROOT } from '../src/gateway';

/**
 * `npm start` runs `tools/bootstrap.js start`, which runs the dev launcher as its child. A
 * SIGTERM sent to the bootstrap process alone (npm forwards it there; so does a supervisor) must
 * stop the whole gateway, not leave the launcher and the apps running as orphans.
 */
describe('npm start under a signal to the bootstrap process alone', () => {
  let broker: RunningBroker;
  let dataDir: string;

  beforeAll(async () => {
    broker = await startTestBroker();
    // Its own HERALD_DATA_DIR: never the repository's .data, where a developer's gateway may run.
    dataDir = mkdtempSync(join(tmpdir(), 'herald-bootstrap-'));
  });

  afterAll(async () => {
    await broker?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops every app it started and exits 0 on SIGTERM', async () => {
    const ports = Object.fromEntries(
      await Promise.all(APPS.map(async (app) => [app.portVariable, String(await freePort())])),
    ) as Record<string, string>;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'tools/bootstrap.js'), 'start'], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...ports,
        KAFKA_BROKERS: broker.brokers,
        HERALD_ADMIN_KEY: `test-admin-${randomUUID()}`,
        HERALD_REDIS_PREFIX: `test:${randomUUID().slice(0, 8)}:`,
        HERALD_DATA_DIR: dataDir,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    let running = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('Herald is running')) running = true;
    });
    const urls = Object.values(ports).map((port) => `http://127.0.0.1:${port}/health/live`);
    const answering = async () =>
      (
        await Promise.all(
          urls.map((url) =>
            fetch(url).then(
              (response) => response.status === 200,
              () => false,
            ),
          ),
        )
      ).filter(Boolean).length;
    try {
      await waitFor(() => running, { timeoutMs: 150_000, what: 'Herald is running' });
      expect(await answering()).toBe(urls.length);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await answering()).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
