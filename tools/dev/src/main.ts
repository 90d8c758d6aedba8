import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { APPS, MissingRedisError, REPO_ROOT, startGateway } from './gateway';

// `npm start`: the whole gateway on this machine, until Ctrl-C.
async function main(): Promise<void> {
  const say = (message: string): void => void process.stdout.write(`${message}\n`);
  if (
    !existsSync(join(REPO_ROOT, 'libs/kafka-broker/bin/herald-broker.js')) &&
    !process.env.KAFKA_BROKERS
  ) {
    say('The embedded broker is not built in this checkout; set KAFKA_BROKERS to a Kafka you run.');
    process.exit(1);
  }
  // The partner console is static files subscription-api serves: build them when the sources
  // changed. Herald runs without them (then /console says how to build it).
  const consoleBuild = spawnSync(
    process.execPath,
    ['-r', '@swc-node/register', 'apps/console/src/build/main.ts'],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
  if (consoleBuild.status !== 0) say('The console did not build; starting Herald without it.');
  say('Starting Herald…');
  const gateway = await startGateway({
    log: say,
    onLine: (name, line) => void process.stdout.write(`[${name}] ${line}\n`),
  });

  say('\nHerald is running:');
  for (const app of APPS)
    say(
      `  ${app.name.padEnd(17)} ${gateway.urls[app.name]}   (metrics ${gateway.urls[app.name]}/metrics)`,
    );
  say(`  ${'kafka'.padEnd(17)} ${gateway.kafkaBrokers}`);
  say(`  ${'redis'.padEnd(17)} ${gateway.redisUrl}`);
  say(`  API docs          ${gateway.urls['subscription-api']}/api-docs`);
  say(`  partner console   ${gateway.urls['subscription-api']}/console`);
  say(`  admin key         ${gateway.adminKey}`);
  say('Press Ctrl-C to stop.\n');

  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    say('\nStopping Herald…');
    gateway.stop().then(
      () => {
        say('Stopped.');
        process.exit(0);
      },
      (error: unknown) => {
        say(`Error while stopping: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  for (const [name, managed] of gateway.processes) {
    void managed.exited().then(({ code, signal }) => {
      if (!stopping)
        say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping the rest.`);
      shutdown();
    });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof MissingRedisError ? error.message : String(error instanceof Error ? error.stack : error)}\n`,
  );
  process.exit(1);
});
