import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// The images run what deploy/docker/compile-workspace.js produces, not what the tests run
// through swc-node. Without Docker, this builds the same output in a scratch copy of the
// workspace and starts each compiled app far enough to prove its whole module graph loads from
// JavaScript alone: every import resolves and every decorator runs, then config validation stops
// it on a deliberately bad port (exit 78, the variable named).

const ROOT = path.resolve(__dirname, '../../..');
const APPS = [
  { app: 'subscription-api', portVariable: 'SUBSCRIPTION_API_PORT' },
  { app: 'ingest-bridge', portVariable: 'INGEST_BRIDGE_PORT' },
  { app: 'fanout', portVariable: 'FANOUT_PORT' },
];

let workspace: string;

/** The parts of the repository the build stage copies, with node_modules linked, not copied. */
function scratchWorkspace(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-compiled-'));
  for (const entry of ['package.json', 'asyncapi', 'libs', 'apps'])
    cpSync(path.join(ROOT, entry), path.join(dir, entry), {
      recursive: true,
      filter: (source) => !/[/\\](node_modules|dist|test)$/.test(source),
    });
  // Third-party packages are shared with the repository's install; the workspace links must
  // point into the scratch copy, or Node would resolve @herald/* back to the TypeScript sources.
  const modules = path.join(dir, 'node_modules');
  mkdirSync(path.join(modules, '@herald'), { recursive: true });
  for (const name of readdirSync(path.join(ROOT, 'node_modules')))
    if (name !== '@herald')
      symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  for (const group of ['libs', 'apps'])
    for (const project of readdirSync(path.join(dir, group))) {
      const manifest = path.join(dir, group, project, 'package.json');
      if (!existsSync(manifest)) continue;
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name: string };
      symlinkSync(path.join(dir, group, project), path.join(modules, name));
    }
  return dir;
}

beforeAll(() => {
  workspace = scratchWorkspace();
});

afterAll(() => {
  if (workspace) rmSync(workspace, { recursive: true, force: true });
});

describe.each(APPS)('compiled $app', ({ app, portVariable }) => {
  it('compiles to JavaScript, loads without swc and validates its config', () => {
    const compile = spawnSync(
      process.execPath,
      [path.join(ROOT, 'deploy/docker/compile-workspace.js'), app, workspace],
      { encoding: 'utf8' },
    );
    expect(compile.stderr).toBe('');
    expect(compile.status).toBe(0);
    const lib = JSON.parse(
      readFileSync(path.join(workspace, 'libs/config/package.json'), 'utf8'),
    ) as { exports: unknown };
    expect(lib.exports).toEqual({ '.': './dist/index.js' });

    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, [portVariable]: 'not-a-port' };
    const run = spawnSync(process.execPath, [`apps/${app}/dist/main.js`], {
      cwd: workspace,
      env,
      encoding: 'utf8',
      timeout: 20_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(output).not.toMatch(
      /Cannot find module|SyntaxError|ERR_REQUIRE_ESM|ERR_UNKNOWN_FILE_EXTENSION/,
    );
    expect(output).toContain(portVariable);
    expect(run.status).toBe(78);
  });
});
