import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO_ROOT = resolve(__dirname, '../../..');

describe('fanout that cannot start', () => {
  it('says why in a JSON log line and exits 78 for a contract the parser refuses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-bad-contract-'));
    writeFileSync(join(dir, 'broken.yaml'), 'asyncapi: 3.0.0\ninfo: {title: x\n');
    try {
      const child = spawn(
        process.execPath,
        ['-r', '@swc-node/register', 'apps/fanout/src/main.ts'],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            HERALD_CONTRACTS: dir,
            HERALD_CONTRACT_CACHE: 'off',
            HERALD_ADMIN_KEY: `hk_admin_${randomBytes(16).toString('hex')}`,
            HERALD_SECRET_KEY: randomBytes(32).toString('base64'),
            KAFKA_BROKERS: '127.0.0.1:9',
            FANOUT_PORT: '0',
            LOG_LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((done) => child.once('exit', done));
      const fatal = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: string; problems?: { file: string }[] })
        .find((line) => line.level === 'fatal');
      expect([code, fatal?.problems?.[0]?.file]).toEqual([78, join(dir, 'broken.yaml')]);
      // No unhandled rejection's bare stack trace.
      expect(output).not.toContain('Node.js v');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
