import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

// Lints small probe files placed inside real projects (the boundary rule judges a file by the
// project it sits in), then removes them.
const root = resolve(__dirname, '../../..');

interface Probe {
  readonly project: string;
  readonly source: string;
}

/**
 * Lints every probe in one ESLint run (its start, config and Nx graph load are most of the
 * cost) and returns each probe's messages in order.
 */
function lintProbes(probes: readonly Probe[]): string[][] {
  const files = probes.map(({ project, source }) => {
    const file = resolve(root, project, 'src', `boundary-probe-${randomUUID().slice(0, 8)}.ts`);
    writeFileSync(file, source);
    return file;
  });
  try {
    // ESLint runs as its own process: its config loader uses dynamic import, which Jest's VM lacks.
    const run = spawnSync(
      process.execPath,
      [resolve(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', ...files],
      {
        cwd: root,
        encoding: 'utf8',
        // The boundary rule maps files to projects through Nx's graph; a cached graph lacks new files.
        env: { ...process.env, NX_CACHE_PROJECT_GRAPH: 'false', NX_DAEMON: 'false' },
      },
    );
    const results = JSON.parse(run.stdout) as {
      filePath: string;
      messages: { ruleId: string | null; message: string }[];
    }[];
    return files.map((file) =>
      (results.find((result) => result.filePath === file)?.messages ?? []).map(
        (m) => `${m.ruleId ?? ''}: ${m.message}`,
      ),
    );
  } finally {
    for (const file of files) rmSync(file, { force: true });
  }
}

const PROBES = {
  appKafkajs: {
    project: 'apps/fanout',
    source: "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n",
  },
  appIoredis: {
    project: 'apps/subscription-api',
    source: "import { Redis } from 'ioredis';\nexport const r = Redis;\n",
  },
  utilImportsInfra: {
    project: 'libs/config',
    source: "import { storeKeys } from '@herald/store';\nexport const k = storeKeys;\n",
  },
  infraKafkajs: {
    project: 'libs/kafka',
    source: "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n",
  },
  appReadsEnv: { project: 'apps/fanout', source: 'export const port = process.env.FANOUT_PORT;\n' },
} satisfies Record<string, Probe>;

describe('module boundaries', () => {
  const messages = {} as Record<keyof typeof PROBES, string>;

  beforeAll(() => {
    // The boundary rule reads Nx's cached project graph and skips itself when there is none
    // (a fresh clone): compute it first.
    const graph = spawnSync(
      process.execPath,
      [resolve(root, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'],
      {
        cwd: root,
        env: { ...process.env, NX_DAEMON: 'false' },
      },
    );
    expect(graph.status).toBe(0);
    const names = Object.keys(PROBES) as (keyof typeof PROBES)[];
    const linted = lintProbes(names.map((name) => PROBES[name]));
    names.forEach((name, i) => (messages[name] = linted[i]!.join('\n')));
  });

  it('rejects an app importing kafkajs directly', () => {
    expect(messages.appKafkajs).toMatch(/@nx\/enforce-module-boundaries: .*kafkajs/);
  });

  it('rejects an app importing ioredis directly', () => {
    expect(messages.appIoredis).toMatch(/@nx\/enforce-module-boundaries: .*ioredis/);
  });

  it('rejects a util lib importing an infra lib', () => {
    expect(messages.utilImportsInfra).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('lets an infra lib use kafkajs and reading process.env outside libs/config is refused', () => {
    expect(messages.infraKafkajs).toBe('');
    expect(messages.appReadsEnv).toMatch(/Read configuration through @herald\/config/);
  });
});
