import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

// The watchdog process (see watchdog.ts): it reads `watch <pid> <name>` and `forget <pid>` lines
// from the launcher on its standard input. The kernel closes the other end of that pipe however
// the launcher ends, SIGKILL included; at that end of file it stops every process still watched.
//
// All at once, not apps first as the launcher does: with the launcher gone, their output pipes
// have no reader, and the broker exits at its next log line (EPIPE), such as the one for an app
// leaving its group. An app stopped after that waits for the broker on its way out until its
// shutdown timeout (10 s); stopped together, they are all gone within a second.

/** How long each process has to exit after SIGTERM before its process group is SIGKILLed. */
const GRACE_MS = 5_000;

/** Watched process group leaders, pid → name. */
const watched = new Map<number, string>();

/** Read now: once the launcher is gone, process.ppid names whoever adopted this process. */
const launcherPid = process.ppid;

function onLine(line: string): void {
  const [verb, pid, ...name] = line.split(' ');
  if (verb === 'watch') watched.set(Number(pid), name.join(' '));
  else if (verb === 'forget') watched.delete(Number(pid));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

/**
 * True while `pid` has not exited. An orphan that exited stays a zombie until its new parent
 * waits for it, and some inits never do: on Linux a zombie counts as exited.
 */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true; // no /proc here (macOS): kill(pid, 0) is all there is to go by
  }
}

async function stopGroup(pid: number): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (isRunning(pid) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  // Whatever its group still holds: the leader when SIGTERM was not enough, else nothing.
  signalGroup(pid, 'SIGKILL');
}

async function stopAllWatched(): Promise<void> {
  const leftBehind = [...watched];
  if (leftBehind.length > 0) {
    const names = leftBehind.map(([pid, name]) => `${name} (pid ${pid})`).join(', ');
    process.stderr.write(
      `herald: the launcher (pid ${launcherPid}) ended without stopping what it started; stopping ${names}\n`,
    );
  }
  await Promise.all(leftBehind.map(([pid]) => stopGroup(pid)));
}

// The launcher's terminal or log may be gone with it; a failed write must not stop the stopping.
process.stderr.on('error', () => undefined);
const launcher = createInterface({ input: process.stdin });
launcher.on('line', onLine);
launcher.once('close', () => void stopAllWatched().finally(() => process.exit(0)));
