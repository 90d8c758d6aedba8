import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from '@herald/kafka/testing';
import { childrenOf } from '../test/process-tree.fixture';
import { startersAbove } from './starters';

/** What the launcher watches above tools/bootstrap.js, in a real process tree (Linux). */
describe('startersAbove', () => {
  let shell: ChildProcess | undefined;

  afterEach(() => {
    shell?.kill('SIGKILL');
    shell = undefined;
  });

  /** This process, as npm, running `sh -c` as npm runs a script, running `sleep` as bootstrap. */
  async function npmLikeTree(): Promise<{ shell: number; bootstrap: number }> {
    // A second command after it: no shell execs `sleep` in its own place then.
    shell = spawn('sh', ['-c', 'sleep 30; exit 0'], { stdio: 'ignore' });
    const shellPid = shell.pid!;
    const bootstrap = await waitFor(() => childrenOf(shellPid)[0], {
      what: 'the shell to start sleep',
    });
    return { shell: shellPid, bootstrap };
  }

  it('names the shell npm ran the script in, then npm, nearest first', async () => {
    const tree = await npmLikeTree();
    const found = startersAbove(tree.bootstrap, { npm_lifecycle_event: 'start' });
    expect(found.map(({ pid }) => pid)).toEqual([tree.shell, process.pid]);
    expect(found[0]!.name).toBe('sh -c sleep 30; exit 0');
    expect(found.every(({ startTime }) => startTime !== undefined)).toBe(true);
  });

  it('names nothing when npm did not run it, so it outlives the shell it was typed in', async () => {
    const tree = await npmLikeTree();
    expect(startersAbove(tree.bootstrap, {})).toEqual([]);
  });
});
