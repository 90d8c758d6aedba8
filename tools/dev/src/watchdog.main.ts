import { createInterface } from 'node:readline';
import { canIdentifyProcesses, isRunning, processStartTime } from './process-identity';

// The watchdog process (see watchdog.ts): it reads `watch <pid> <start time> <name>` and
// `forget <pid>` lines from the launcher on its standard input (the start time from
// process-identity.ts, `-` where there is none). The kernel closes the other end of that pipe
// however the launcher ends, SIGKILL included; at that end of file it stops every process still
// watched.
//
// All at once, not apps first as the launcher does: with the launcher gone, their output pipes
// have no reader, and the broker exits at its next log line (EPIPE), such as the one for an app
// leaving its group. An app stopped after that waits for the broker on its way out until its
// shutdown timeout (10 s); stopped together, they are all gone within a second.

/** How long each process has to exit after SIGTERM before its process group is SIGKILLed. */
const GRACE_MS = 5_000;

interface Watched {
  name: string;
  /** Its start time when the launcher spawned it; undefined where processes cannot be told apart. */
  startTime?: string;
}

/** Watched process group leaders, by pid. */
const watched = new Map<number, Watched>();

/** Given by the launcher; process.ppid would name whoever adopted this process once it is gone. */
const launcherPid = Number(process.argv[2]) || process.ppid;

function onLine(line: string): void {
  const [verb, pid, startTime, ...name] = line.split(' ');
  if (verb === 'watch')
    watched.set(Number(pid), {
      name: name.join(' '),
      startTime: startTime === '-' ? undefined : startTime,
    });
  else if (verb === 'forget') watched.delete(Number(pid));
}

/**
 * False when `pid` now names another process than the one the launcher started: it exited, was
 * reaped, and the system gave its number to a new one, whose process group is none of ours. While
 * the old group has members its number stays taken, so a leader that is gone leaves `-pid`
 * reaching those members or nobody. Where there is no /proc (macOS), this cannot be told.
 */
function isTheOneWatched(pid: number, { startTime }: Watched): boolean {
  if (!canIdentifyProcesses || startTime === undefined) return true;
  const now = processStartTime(pid);
  return now === undefined || now === startTime;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

async function stopGroup(pid: number, started: Watched): Promise<void> {
  signalGroup(pid, 'SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (isRunning(pid) && isTheOneWatched(pid, started) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  // Whatever its group still holds: the leader when SIGTERM was not enough, else nothing.
  if (isTheOneWatched(pid, started)) signalGroup(pid, 'SIGKILL');
}

function named(entries: [number, Watched][]): string {
  return entries.map(([pid, { name }]) => `${name} (pid ${pid})`).join(', ');
}

async function stopAllWatched(): Promise<void> {
  const entries = [...watched];
  const leftBehind = entries.filter(([pid, started]) => isTheOneWatched(pid, started));
  const replaced = entries.filter(([pid, started]) => !isTheOneWatched(pid, started));
  if (leftBehind.length > 0) {
    process.stderr.write(
      `herald: the launcher (pid ${launcherPid}) ended without stopping what it started; stopping ${named(leftBehind)}\n`,
    );
  }
  if (replaced.length > 0) {
    process.stderr.write(
      `herald: not stopping ${named(replaced)}: it exited, and its pid is now another process's\n`,
    );
  }
  await Promise.all(leftBehind.map(([pid, started]) => stopGroup(pid, started)));
}

// The launcher's terminal or log may be gone with it; a failed write must not stop the stopping.
process.stderr.on('error', () => undefined);
const launcher = createInterface({ input: process.stdin });
launcher.on('line', onLine);
launcher.once('close', () => void stopAllWatched().finally(() => process.exit(0)));
