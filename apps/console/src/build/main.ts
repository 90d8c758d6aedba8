import { relative } from 'node:path';
import { CONSOLE_DIST, buildConsole, ensureConsoleBuilt } from './console-build';

// Builds the console into apps/console/dist: always with --force (`npm run build -w
// apps/console`), otherwise only when the sources changed since the last build (`npm start`).
async function main(): Promise<void> {
  const started = Date.now();
  const where = relative(process.cwd(), CONSOLE_DIST) || CONSOLE_DIST;
  if (process.argv.includes('--force')) {
    await buildConsole();
  } else if ((await ensureConsoleBuilt()) === 'current') {
    process.stdout.write(`console: ${where} is up to date\n`);
    return;
  }
  process.stdout.write(`console: built ${where} in ${Date.now() - started} ms\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`console: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
