import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** The console project's folder (apps/console). */
export const CONSOLE_ROOT = resolve(__dirname, '..', '..');

/** Where the build goes, and where subscription-api serves it from by default. */
export const CONSOLE_DIST = join(CONSOLE_ROOT, 'dist');

/** Written into the build: the hash of the sources it was built from. */
export const BUILD_STAMP = '.build-hash';

/** Terminal colour codes, taken out of Vite's report before it goes into an error message. */
const COLOURS = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const INPUTS = ['index.html', 'vite.config.mjs', 'package.json', 'src'];
const TOOLCHAIN = ['vite', 'react', 'react-dom'];

function isBuildInput(path: string): boolean {
  return !path.startsWith('src/build/') && !/\.spec\.tsx?$/.test(path);
}

function filesUnder(root: string, path: string): string[] {
  const full = join(root, path);
  if (!existsSync(full)) return [];
  const entries = readdirSync(full, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)));
}

/**
 * A hash of everything a build reads: the app's sources (not its tests, nor this build code),
 * index.html, the Vite config, package.json, and the installed toolchain's versions. Content, not
 * modification times, so a fresh clone and an untouched checkout agree.
 */
export function consoleSourceHash(root: string = CONSOLE_ROOT): string {
  const hash = createHash('sha256');
  const files = INPUTS.flatMap((input) =>
    input === 'src' ? filesUnder(root, input) : existsSync(join(root, input)) ? [input] : [],
  )
    .map((file) => file.split('\\').join('/'))
    .filter(isBuildInput)
    .sort();
  for (const file of files) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  for (const name of TOOLCHAIN) {
    const version = (
      JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as {
        version: string;
      }
    ).version;
    hash.update(`${name}@${version}\0`);
  }
  return hash.digest('hex');
}

/** True when `dist` holds a build of exactly the current sources. */
export function isConsoleBuildCurrent(root: string = CONSOLE_ROOT, dist: string = CONSOLE_DIST) {
  const stamp = join(dist, BUILD_STAMP);
  return (
    existsSync(join(dist, 'index.html')) &&
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8').trim() === consoleSourceHash(root)
  );
}

function runVite(root: string, outDir: string): Promise<void> {
  const vite = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  return new Promise((resolveRun, reject) => {
    const child = spawn(
      process.execPath,
      [vite, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolveRun();
      else reject(new Error(`vite build failed (exit ${code}):\n${output.replace(COLOURS, '')}`));
    });
  });
}

/**
 * Builds the console with Vite into a fresh folder, stamps it with the source hash, then swaps it
 * in for `dist`, so a subscription-api serving `dist` never sees half a build.
 */
export async function buildConsole(
  root: string = CONSOLE_ROOT,
  dist: string = CONSOLE_DIST,
): Promise<void> {
  const hash = consoleSourceHash(root);
  const next = join(root, `.build-${process.pid}`);
  const previous = join(root, `.build-${process.pid}-previous`);
  rmSync(next, { recursive: true, force: true });
  try {
    await runVite(root, next);
    writeFileSync(join(next, BUILD_STAMP), `${hash}\n`);
    if (existsSync(dist)) renameSync(dist, previous);
    renameSync(next, dist);
  } finally {
    rmSync(next, { recursive: true, force: true });
    rmSync(previous, { recursive: true, force: true });
  }
}

/** Builds the console when `dist` is missing or older than its sources; says which it did. */
export async function ensureConsoleBuilt(
  root: string = CONSOLE_ROOT,
  dist: string = CONSOLE_DIST,
): Promise<'current' | 'built'> {
  if (isConsoleBuildCurrent(root, dist)) return 'current';
  await buildConsole(root, dist);
  return 'built';
}
