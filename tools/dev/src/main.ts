import { spawnSync } from 'node:child_process';
import { ConfigError, maskCredentials } from '@herald/config';
import { APPS, REPO_ROOT, RedisSetupError, startGateway, type Gateway } from './gateway';
import { watchStarters } from './starters';

// `npm start`: the whole gateway on this machine, until Ctrl-C, SIGTERM or SIGHUP (the terminal
// closed), or until a process it was started by (tools/bootstrap.js, npm) is gone. The children
// run in their own process groups, so nothing but this process stops them: every way out of it,
// during startup too, stops them first.

const say = (message: string): void => void process.stdout.write(`${message}\n`);

const startup = new AbortController();
let gateway: Gateway | undefined;
let stopping = false;
let exitCode = 0;

async function stopGatewayAndExit(running: Gateway): Promise<never> {
  try {
    await running.stop();
    say('Stopped.');
    process.exit(exitCode);
  } catch (error) {
    say(`Error while stopping: ${String(error)}`);
    process.exit(1);
  }
}

/**
 * Stops what was started (once the gateway is up, all of it; while it starts, what is up so
 * far: aborting the startup makes startGateway stop that) and exits with `code`. Runs once.
 */
function stopAndExit(code: number, why?: string): void {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  if (why) say(why);
  say('\nStopping Herald…');
  startup.abort();
  if (gateway) void stopGatewayAndExit(gateway);
}

function onUnexpectedError(error: unknown): void {
  // Once stopping, a closed terminal or pipe raises more of these on every write; they change
  // nothing, and printing them would raise another.
  if (stopping) return;
  process.stderr.write(
    `The launcher failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  stopAndExit(1);
}

async function main(): Promise<void> {
  // Before anything starts: a signal during a startup of minutes must not orphan what is up.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
    process.on(signal, () => stopAndExit(0));
  // Killed with SIGKILL, npm or tools/bootstrap.js would otherwise leave all of it running.
  watchStarters((why) => stopAndExit(0, why), { env: process.env });
  process.on('uncaughtException', onUnexpectedError);
  process.on('unhandledRejection', onUnexpectedError);

  // The partner console is static files subscription-api serves: build them when the sources
  // changed. Herald runs without them (then /console says how to build it).
  const consoleBuild = spawnSync(
    process.execPath,
    ['-r', '@swc-node/register', 'apps/console/src/build/main.ts'],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  if (consoleBuild.status !== 0) say('The console did not build; starting Herald without it.');
  say('Starting Herald…');
  try {
    gateway = await startGateway({
      log: say,
      onLine: (name, line) => void process.stdout.write(`[${name}] ${line}\n`),
      signal: startup.signal,
    });
  } catch (error) {
    if (!stopping) throw error;
    // Interrupted: startGateway has stopped what it had started.
    say('Stopped.');
    process.exit(exitCode);
  }
  // Asked to stop just as the last app became ready.
  if (stopping) await stopGatewayAndExit(gateway);

  say('\nHerald is running:');
  for (const app of APPS)
    say(
      `  ${app.name.padEnd(17)} ${gateway.urls[app.name]}   (metrics ${gateway.urls[app.name]}/metrics)`,
    );
  say(`  ${'kafka'.padEnd(17)} ${gateway.kafkaBrokers}`);
  say(`  ${'redis'.padEnd(17)} ${maskCredentials(gateway.redisUrl)}`);
  say(`  API docs          ${gateway.urls['subscription-api']}/api-docs`);
  say(`  partner console   ${gateway.urls['subscription-api']}/console`);
  say(`  admin key         ${gateway.adminKey}`);
  say(`  data              ${gateway.dataDir}`);
  say('Press Ctrl-C to stop.\n');

  for (const [name, managed] of gateway.processes) {
    void managed
      .exited()
      .then(({ code, signal }) =>
        stopAndExit(
          1,
          `${name} exited unexpectedly (code ${code}, signal ${signal}); stopping the rest.`,
        ),
      );
  }
}

main().catch((error: unknown) => {
  const known = error instanceof RedisSetupError || error instanceof ConfigError;
  process.stderr.write(
    `${known ? error.message : String(error instanceof Error ? error.stack : error)}\n`,
  );
  // Startup failed (startGateway stopped what it had started) or a bug after it: stop the rest.
  if (gateway) stopAndExit(1);
  else process.exit(1);
});
