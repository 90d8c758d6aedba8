import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ManagedProcess } from './managed-process';
import { httpStatus, portOpen } from './probes';

import * as redisHarness from '@herald/test-harness';

export const REPO_ROOT = resolve(__dirname, '../../..');

export const APPS = [
  { name: 'subscription-api', portVariable: 'SUBSCRIPTION_API_PORT', defaultPort: 3000 },
  { name: 'ingest-bridge', portVariable: 'INGEST_BRIDGE_PORT', defaultPort: 3001 },
  { name: 'fanout', portVariable: 'FANOUT_PORT', defaultPort: 3002 },
] as const;

export type AppName = (typeof APPS)[number]['name'];

export interface GatewayOptions {
  /** Where the broker, Redis (when started here) and the admin key live. Default `.data`. */
  dataDir?: string;
  /** Environment for the apps; REDIS_URL and KAFKA_BROKERS in it are honoured. */
  env?: Record<string, string | undefined>;
  /** Ports; defaults are SPEC §1's. */
  ports?: Partial<Record<AppName | 'broker', number>>;
  onLine?: (name: string, line: string) => void;
  log?: (message: string) => void;
}

export interface Gateway {
  urls: Record<AppName, string>;
  redisUrl: string;
  kafkaBrokers: string;
  adminKey: string;
  /** Every process this launcher started, in start order. */
  processes: Map<string, ManagedProcess>;
  /** Stops what this launcher started, apps first, and nothing else. */
  stop(): Promise<void>;
}

export class MissingRedisError extends Error {
  constructor(url: string) {
    super(
      `No Redis answers at ${url} and redis-server is not installed.\n` +
        'Install it with:  sudo apt-get install -y redis-server   (macOS: brew install redis)\n' +
        'or point REDIS_URL at a running Redis.',
    );
  }
}

function hasBinary(name: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  return dirs.some((dir) => dir !== '' && existsSync(join(dir, name)));
}

function adminKeyFor(dataDir: string, env: Record<string, string | undefined>): string {
  const given = env.HERALD_ADMIN_KEY;
  if (given) return given;
  const file = join(dataDir, 'admin-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = `hk_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/**
 * Brings up the whole gateway on one machine, as `npm start` does: Redis (reused when one
 * answers at REDIS_URL, else started with append-only persistence under the data folder), the
 * embedded broker (unless KAFKA_BROKERS names real ones), then the three apps.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const env = { ...process.env, ...options.env };
  const log = options.log ?? (() => undefined);
  const dataDir = resolve(REPO_ROOT, options.dataDir ?? '.data');
  mkdirSync(dataDir, { recursive: true });
  const processes = new Map<string, ManagedProcess>();
  const stops: (() => Promise<unknown>)[] = [];

  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
    stops.length = 0;
  };

  try {
    const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    if (await redisHarness.pingRedis(redisUrl)) {
      log(`Redis: using the one at ${redisUrl}`);
    } else {
      if (!hasBinary('redis-server')) throw new MissingRedisError(redisUrl);
      const port = Number(new URL(redisUrl).port || 6379);
      const redis = await redisHarness.startRedisServer({
        port,
        dir: join(dataDir, 'redis'),
        appendOnly: true,
        detached: true,
      });
      stops.push(() => redis.stop());
      log(
        `Redis: started redis-server (pid ${redis.pid}) on ${redis.url}, append-only files in ${join(dataDir, 'redis')}`,
      );
    }

    let kafkaBrokers = env.KAFKA_BROKERS ?? '';
    if (kafkaBrokers === '') {
      const port = options.ports?.broker ?? 9092;
      kafkaBrokers = `127.0.0.1:${port}`;
      const cli = join(REPO_ROOT, 'libs/kafka-broker/bin/herald-broker.js');
      if (await portOpen('127.0.0.1', port)) {
        throw new Error(
          `Port ${port} is taken, so the embedded broker cannot start. Set KAFKA_BROKERS to use that Kafka.`,
        );
      }
      const broker = new ManagedProcess({
        name: 'broker',
        command: process.execPath,
        args: [cli, '--port', String(port), '--data', join(dataDir, 'kafka')],
        env,
        cwd: REPO_ROOT,
        isReady: () => portOpen('127.0.0.1', port),
        onLine: options.onLine,
      });
      await broker.start();
      processes.set('broker', broker);
      stops.push(() => broker.stop());
      log(`Kafka: embedded broker on ${kafkaBrokers}, data in ${join(dataDir, 'kafka')}`);
    } else {
      log(`Kafka: using ${kafkaBrokers}`);
    }

    const adminKey = adminKeyFor(dataDir, env);
    const urls = {} as Record<AppName, string>;
    const appEnv = {
      ...env,
      REDIS_URL: redisUrl,
      KAFKA_BROKERS: kafkaBrokers,
      HERALD_ADMIN_KEY: adminKey,
    };
    for (const app of APPS) {
      const port = options.ports?.[app.name] ?? Number(env[app.portVariable] ?? app.defaultPort);
      urls[app.name] = `http://127.0.0.1:${port}`;
      const managed = new ManagedProcess({
        name: app.name,
        command: process.execPath,
        args: ['-r', '@swc-node/register', `apps/${app.name}/src/main.ts`],
        env: {
          ...appEnv,
          [app.portVariable]: String(port),
          SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json'),
        },
        cwd: REPO_ROOT,
        isReady: async () => (await httpStatus(`${urls[app.name]}/health/live`)) === 200,
        onLine: options.onLine,
      });
      await managed.start();
      processes.set(app.name, managed);
      stops.push(() => managed.stop());
    }
    return { urls, redisUrl, kafkaBrokers, adminKey, processes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
