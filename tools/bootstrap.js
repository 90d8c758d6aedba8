#!/usr/bin/env node
// The root commands (`npm start`, `npm test`, `npm run check`, `npm run bench`,
// `npm run chaos`) come through here. It has no dependencies on purpose: on a fresh clone it
// installs them first (`npm ci` when node_modules is missing or older than package-lock.json),
// then runs the verb.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const verbs = {
  start: ['node', ['-r', '@swc-node/register', 'tools/dev/src/main.ts']],
  test: ['npx', ['nx', 'run-many', '-t', 'test', '--parallel=1', '--output-style=stream']],
  check: ['node', ['-r', '@swc-node/register', 'tools/check/src/main.ts']],
  bench: ['node', ['-r', '@swc-node/register', 'tools/bench/src/main.ts']],
  chaos: ['node', ['-r', '@swc-node/register', 'tools/chaos/src/main.ts']],
};

function dependenciesMissing() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (!fs.existsSync(marker)) return 'node_modules is missing';
  if (fs.statSync(lock).mtimeMs > fs.statSync(marker).mtimeMs + 1000)
    return 'package-lock.json changed';
  return null;
}

function run(command, args, extraEnv = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...extraEnv },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function main() {
  const [verb, ...rest] = process.argv.slice(2);
  const entry = verbs[verb];
  if (!entry) {
    process.stderr.write(`usage: node tools/bootstrap.js ${Object.keys(verbs).join('|')} [args]\n`);
    process.exit(64);
  }
  const why = dependenciesMissing();
  if (why) {
    process.stderr.write(`herald: installing dependencies (${why}) with npm ci\n`);
    let status = run('npm', ['ci', '--no-audit', '--no-fund']);
    if (status !== 0) {
      process.stderr.write('herald: npm ci refused package-lock.json; trying npm install\n');
      status = run('npm', ['install', '--no-audit', '--no-fund']);
    }
    if (status !== 0) process.exit(status);
  }
  const [command, args] = entry;
  // Nx: no daemon and no cloud on developer machines or CI; plain streamed output.
  process.exit(
    run(command, [...args, ...rest], { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' }),
  );
}

main();
