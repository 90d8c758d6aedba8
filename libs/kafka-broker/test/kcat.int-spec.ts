// Conformance: kcat (librdkafka) against the embedded broker, run as a child process.
import { spawn } from 'node:child_process';
import { startTestBroker, uniqueName, type RunningBroker } from '../src/testing';

let broker: RunningBroker;

beforeAll(async () => {
  broker = await startTestBroker({ defaultPartitions: 1 });
});

afterAll(async () => {
  await broker.stop();
});

interface KcatResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs kcat against the broker; kills it and fails after `timeoutMs`. */
function kcat(args: string[], input?: string, timeoutMs = 20_000): Promise<KcatResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-b', broker.brokers, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kcat ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

interface KcatMessage {
  offset: number;
  tstype: string;
  ts: number;
  key: string | null;
  payload: string;
}

function parseMessages(stdout: string): KcatMessage[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as KcatMessage);
}

describe('kcat', () => {
  it('lists metadata (-L)', async () => {
    const topic = uniqueName('kcat-meta');
    await kcat(['-P', '-t', topic], 'hello\n');
    const result = await kcat(['-L', '-J']);
    expect(result.code).toBe(0);
    const metadata = JSON.parse(result.stdout) as {
      brokers: { id: number; name: string }[];
      topics: { topic: string; partitions: unknown[] }[];
    };
    expect(metadata.brokers[0]?.name).toBe(broker.brokers);
    expect(metadata.topics.find((t) => t.topic === topic)?.partitions).toHaveLength(1);
  });

  it('produces (-P) and consumes from the beginning (-C -o beginning)', async () => {
    const topic = uniqueName('kcat-pc');
    const lines = Array.from({ length: 25 }, (_, i) => `key${i}:value${i}`).join('\n');
    const produced = await kcat(['-P', '-t', topic, '-K', ':'], `${lines}\n`);
    expect(produced.code).toBe(0);
    const consumed = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-J']);
    expect(consumed.code).toBe(0);
    const messages = parseMessages(consumed.stdout);
    expect(messages.map((m) => m.payload)).toEqual(
      Array.from({ length: 25 }, (_, i) => `value${i}`),
    );
    expect(messages.map((m) => m.key)).toEqual(Array.from({ length: 25 }, (_, i) => `key${i}`));
    expect(messages.map((m) => m.offset)).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('consumes from a timestamp (-C -o s@<timestamp>)', async () => {
    const topic = uniqueName('kcat-ts');
    await kcat(['-P', '-t', topic], 'early-1\nearly-2\n');
    const all = parseMessages(
      (await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-J'])).stdout,
    );
    const cut = Math.max(...all.map((m) => m.ts)) + 1;
    // librdkafka stamps records with its own clock; wait until it has moved past `cut`.
    while (Date.now() <= cut) await new Promise((resolve) => setImmediate(resolve));
    await kcat(['-P', '-t', topic], 'late-1\nlate-2\n');
    const fromTime = await kcat(['-C', '-t', topic, '-o', `s@${cut}`, '-e', '-J']);
    expect(fromTime.code).toBe(0);
    expect(parseMessages(fromTime.stdout).map((m) => m.payload)).toEqual(['late-1', 'late-2']);
  });

  it('consumes in a group (-G) and resumes from the committed offset', async () => {
    const topic = uniqueName('kcat-group');
    const group = uniqueName('kcat-g');
    await kcat(
      ['-P', '-t', topic],
      `${Array.from({ length: 10 }, (_, i) => `m${i}`).join('\n')}\n`,
    );
    // No -o here: in -G mode it would override the committed offset.
    const groupArgs = ['-G', group, topic, '-c', '4', '-J', '-X', 'auto.offset.reset=earliest'];
    const first = await kcat(groupArgs);
    expect(first.code).toBe(0);
    expect(parseMessages(first.stdout).map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3']);
    const second = await kcat(groupArgs);
    expect(parseMessages(second.stdout).map((m) => m.payload)).toEqual(['m4', 'm5', 'm6', 'm7']);
  });
});
