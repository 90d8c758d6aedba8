import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../src/gateway';

/**
 * `npm test` repeats every failed test after the whole run, so a failure in an early project is
 * still in the tail of a CI log. Jest's reporter `tools/testing/failure-reporter.js` notes them in
 * the file HERALD_TEST_FAILURES names; here it runs inside a real Jest run of a failing suite.
 */
describe('the failure reporter npm test uses', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'herald-reporter-'));
    writeFileSync(
      join(dir, 'sample.test.js'),
      [
        "describe('sample', () => {",
        "  it('passes', () => expect(1).toBe(1));",
        "  it('fails on purpose', () => expect({ n: 2 }).toEqual({ n: 3 }));",
        '});',
      ].join('\n'),
    );
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function jest(env: Record<string, string>) {
    const config = {
      rootDir: dir,
      testMatch: ['<rootDir>/sample.test.js'],
      reporters: [join(REPO_ROOT, 'tools/testing/failure-reporter.js')],
    };
    return spawnSync(
      process.execPath,
      [join(REPO_ROOT, 'node_modules/jest/bin/jest.js'), '--config', JSON.stringify(config)],
      { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' },
    );
  }

  it('notes each failed test with its file and failure, and not the passing ones', () => {
    const file = join(dir, 'failures.txt');
    const run = jest({ HERALD_TEST_FAILURES: file });
    expect(run.status).toBe(1);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('✕ ');
    expect(text).toContain('sample.test.js › sample fails on purpose');
    expect(text).toContain('"n": 3');
    expect(text).not.toContain('passes');
    // Plain text: no colour codes, no frames from Jest's own code.
    expect(text).not.toContain('\u001b[');
    expect(text).not.toContain('node_modules');
  }, 60_000);
});
