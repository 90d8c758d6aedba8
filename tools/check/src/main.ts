import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

// `npm run check`: every static check, in order, each reported; exits non-zero if any fails.
const root = resolve(__dirname, '../../..');

interface Step {
  name: string;
  command: string[];
  when?: () => boolean;
}

const sourceRoots = ['apps', 'libs', 'tools'];

const steps: Step[] = [
  // The boundary rule reads Nx's cached project graph and skips itself when there is none.
  { name: 'project graph (nx)', command: ['npx', 'nx', 'show', 'projects'] },
  {
    name: 'format (prettier)',
    command: ['npx', 'prettier', '--check', '--log-level', 'warn', '.'],
  },
  {
    name: 'lint + module boundaries (eslint, zero warnings)',
    command: ['npx', 'eslint', '.', '--max-warnings', '0'],
  },
  { name: 'typecheck (tsc)', command: ['npx', 'tsc', '-p', 'tsconfig.json'] },
  // The console's React pages (.tsx, DOM types) have their own compiler settings.
  { name: 'typecheck console (tsc)', command: ['npx', 'tsc', '-p', 'apps/console'] },
  {
    name: 'circular imports (madge)',
    command: [
      'npx',
      'madge',
      '--circular',
      '--no-spinner',
      '--extensions',
      'ts',
      '--ts-config',
      'tsconfig.base.json',
      ...sourceRoots,
    ],
  },
  {
    name: 'generated Kafka codecs are current',
    command: ['node', '-r', '@swc-node/register', 'tools/kafka-codegen/src/main.ts', '--check'],
    when: () => existsSync(resolve(root, 'tools/kafka-codegen/src/main.ts')),
  },
];

let failed = 0;
for (const step of steps) {
  if (step.when && !step.when()) continue;
  const started = Date.now();
  process.stdout.write(`▶ ${step.name}\n`);
  const [command, ...args] = step.command as [string, ...string[]];
  const env = { ...process.env, NX_DAEMON: 'false' };
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status === 0) {
    process.stdout.write(`✔ ${step.name} (${seconds}s)\n`);
  } else {
    failed += 1;
    process.stdout.write(`✘ ${step.name} failed (${seconds}s)\n`);
  }
}
process.stdout.write(failed === 0 ? 'All checks passed.\n' : `${failed} check(s) failed.\n`);
process.exit(failed === 0 ? 0 : 1);
