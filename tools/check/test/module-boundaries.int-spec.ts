import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

// Lints small probe files placed inside real projects (the boundary rule judges a file by the
// project it sits in), then removes them.
const root = resolve(__dirname, '../../..');

function lintProbe(project: string, source: string): string[] {
  const file = resolve(root, project, 'src', `boundary-probe-${randomUUID().slice(0, 8)}.ts`);
  writeFileSync(file, source);
  try {
    // ESLint runs as its own process: its config loader uses dynamic import, which Jest's VM lacks.
    const run = spawnSync(
      process.execPath,
      [resolve(root, 'node_modules/eslint/bin/eslint.js'), '--format', 'json', file],
      {
        cwd: root,
        encoding: 'utf8',
        // The boundary rule maps files to projects through Nx's graph; a cached graph lacks new files.
        env: { ...process.env, NX_CACHE_PROJECT_GRAPH: 'false', NX_DAEMON: 'false' },
      },
    );
    const [result] = JSON.parse(run.stdout) as {
      messages: { ruleId: string | null; message: string }[];
    }[];
    return (result?.messages ?? []).map((m) => `${m.ruleId ?? ''}: ${m.message}`);
  } finally {
    rmSync(file, { force: true });
  }
}

describe('module boundaries', () => {
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
  });

  it('rejects an app importing kafkajs directly', () => {
    const messages = lintProbe(
      'apps/fanout',
      "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n",
    );
    expect(messages.join('\n')).toMatch(/@nx\/enforce-module-boundaries: .*kafkajs/);
  });

  it('rejects an app importing ioredis directly', () => {
    const messages = lintProbe(
      'apps/subscription-api',
      "import { Redis } from 'ioredis';\nexport const r = Redis;\n",
    );
    expect(messages.join('\n')).toMatch(/@nx\/enforce-module-boundaries: .*ioredis/);
  });

  it('rejects a util lib importing an infra lib', () => {
    const messages = lintProbe(
      'libs/config',
      "import { storeKeys } from '@herald/store';\nexport const k = storeKeys;\n",
    );
    expect(messages.join('\n')).toMatch(/@nx\/enforce-module-boundaries/);
  });

  it('lets an infra lib use kafkajs and reading process.env outside libs/config is refused', () => {
    const allowed = lintProbe(
      'libs/kafka',
      "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n",
    );
    expect(allowed).toEqual([]);
    const env = lintProbe('apps/fanout', 'export const port = process.env.FANOUT_PORT;\n');
    expect(env.join('\n')).toMatch(/Read configuration through @herald\/config/);
  });
});
