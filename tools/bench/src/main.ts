// `npm run bench [name…]`: runs each benchmark (`tools/bench/src/<name>.bench.ts`) in its own
// process, one after another so they do not compete for the two cores, and leaves each one's
// table in `tools/bench/results/<name>.md`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './bench-processes';

const available = readdirSync(__dirname)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .sort();
const chosen = process.argv.slice(2);
const unknown = chosen.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown benchmark(s) ${unknown.join(', ')}; available: ${available.join(', ')}\n`,
  );
  process.exit(64);
}

let failed = 0;
for (const name of chosen.length > 0 ? chosen : available) {
  process.stdout.write(`\n▶ ${name}\n`);
  const run = spawnSync(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, `${name}.bench.ts`)],
    {
      cwd: REPO_ROOT,
      stdio: 'inherit',
      env: { ...process.env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json') },
    },
  );
  if (run.status !== 0) {
    failed += 1;
    process.stdout.write(`✘ ${name} failed\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
