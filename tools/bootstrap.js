#!/usr/bin/env node
// The root commands (`npm start`, `npm test`, `npm run check`, `npm run bench`,
// `npm run chaos`) come through here. It has no dependencies on purpose: on a fresh clone it
// installs them first (`npm ci` when node_modules is missing or older than package-lock.json),
// then runs the verb.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
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

/**
 * Runs the verb as a child and exits with its status. A signal sent to this process alone (a
 * supervisor may send one) is passed on, so the verb stops what it started instead of being
 * orphaned; a second Ctrl-C that also reached the child from the terminal is harmless (the verbs
 * stop once). With `ipc`, the child (node) also gets an IPC channel to this process.
 */
function runForwardingSignals(command, args, extraEnv, afterExit = () => {}, ipc = false) {
  const child = spawn(command, args, {
    cwd: root,
    stdio: ipc ? ['inherit', 'inherit', 'inherit', 'ipc'] : 'inherit',
    env: { ...process.env, ...extraEnv },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'])
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  child.once('error', (error) => {
    process.stderr.write(`herald: could not run ${command}: ${error.message}\n`);
    process.exit(1);
  });
  // Killed by a signal: the shell's convention, 128 + its number.
  child.once('exit', (code, signal) => {
    afterExit();
    process.exit(code ?? 128 + (os.constants.signals[signal] ?? 0));
  });
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
  // `npm test`: Jest's failure reporter (tools/testing/failure-reporter.js) notes every failed
  // test here, and they are repeated after the run, where a CI log's tail shows them.
  const failures =
    verb === 'test'
      ? path.join(os.tmpdir(), `herald-test-failures-${process.pid}-${Date.now()}.txt`)
      : undefined;
  // Nx: no daemon and no cloud on developer machines or CI; plain streamed output.
  runForwardingSignals(
    command,
    [...args, ...rest],
    {
      NX_DAEMON: 'false',
      NX_NO_CLOUD: 'true',
      NX_TUI: 'false',
      ...(failures ? { HERALD_TEST_FAILURES: failures } : {}),
    },
    () => failures && repeatFailures(failures),
    // `start`: the launcher stops the gateway when this process is gone, however it ended (a
    // SIGKILL too): the kernel then closes this channel (tools/dev/src/starters.ts).
    verb === 'start',
  );
}

/** Prints the failed tests the run noted (if any) and removes the file. */
function repeatFailures(file) {
  if (!fs.existsSync(file)) return;
  const text = fs.readFileSync(file, 'utf8');
  fs.rmSync(file, { force: true });
  if (text.trim() === '') return;
  process.stdout.write(`\nherald: the failed tests of this run, again:\n\n${text}`);
}

main();
