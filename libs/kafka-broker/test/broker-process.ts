// Runs the broker CLI as a child process, for tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../src/testing';

const CLI = join(__dirname, '../bin/herald-broker.js');

export interface BrokerProcess {
  child: ChildProcess;
  port: number;
  brokers: string;
  /** Everything the broker logged (JSON lines). */
  logs: () => string;
  exited: Promise<number | null>;
}

/** Starts `herald-broker` and resolves once it logs that it is listening. */
export function startBrokerProcess(
  args: string[],
  port: number,
  timeoutMs = 30_000,
): Promise<BrokerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, '--port', String(port), ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let logs = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`broker did not start in ${timeoutMs} ms:\n${logs}`));
    }, timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      logs += chunk.toString();
      if (logs.includes('"msg":"broker listening"')) {
        clearTimeout(timer);
        resolve({ child, port, brokers: `127.0.0.1:${port}`, logs: () => logs, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`broker exited with ${String(code)} before listening:\n${logs}`));
    });
  });
}

export { freePort };
