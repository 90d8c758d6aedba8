import { parseArgs } from 'node:util';
import { startBroker } from '../broker';
import { createJsonLogger } from '../broker.logger';
import type { FsyncPolicy } from '../storage/storage.types';

const USAGE = `herald-broker [--port 9092] [--host 127.0.0.1] [--data DIR] [--fsync never|always|<ms>]
  [--partitions 1] [--no-auto-create] [--advertised-host HOST] [--sasl-user NAME:PASSWORD ...]

Runs the embedded Kafka-protocol broker until SIGTERM or SIGINT. Without --data it keeps
everything in memory. --fsync: never (default; survives a crash of the process, not of the
machine), always (before every produce is acknowledged) or a flush interval in milliseconds.`;

export function parseFsync(value: string | undefined): FsyncPolicy {
  if (value === undefined || value === 'never') return { mode: 'never' };
  if (value === 'always') return { mode: 'always' };
  const intervalMs = Number(value);
  if (!Number.isInteger(intervalMs) || intervalMs <= 0)
    throw new Error(`--fsync: expected never, always or milliseconds, got "${value}"`);
  return { mode: 'interval', intervalMs };
}

export async function main(argv: string[]): Promise<void> {
  // Whoever read the log may be gone (the terminal closed, the launcher killed): the broker
  // serves on without it rather than die of EPIPE at its next log line.
  process.stderr.on('error', () => undefined);
  const log = createJsonLogger();
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string', default: '9092' },
        host: { type: 'string', default: '127.0.0.1' },
        'advertised-host': { type: 'string' },
        data: { type: 'string' },
        fsync: { type: 'string' },
        partitions: { type: 'string', default: '1' },
        'no-auto-create': { type: 'boolean', default: false },
        'sasl-user': { type: 'string', multiple: true },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  const partitions = Number(values.partitions);
  if (
    !Number.isInteger(port) ||
    port < 0 ||
    port > 65535 ||
    !Number.isInteger(partitions) ||
    partitions < 1
  ) {
    process.stderr.write(`invalid --port or --partitions\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const saslUsers = values['sasl-user'];
  const saslPlainUsers = saslUsers
    ? Object.fromEntries(
        saslUsers.map((entry) => [
          entry.slice(0, entry.indexOf(':')),
          entry.slice(entry.indexOf(':') + 1),
        ]),
      )
    : undefined;
  if (saslUsers?.some((entry) => entry.indexOf(':') < 1)) {
    process.stderr.write(`--sasl-user: expected NAME:PASSWORD\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const broker = await startBroker({
    saslPlainUsers,
    port,
    host: values.host,
    advertisedHost: values['advertised-host'],
    dataDir: values.data,
    fsync: parseFsync(values.fsync),
    defaultPartitions: partitions,
    autoCreateTopics: !values['no-auto-create'],
    logger: log,
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    broker.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error('shutdown failed', { error });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
