import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { maskCredentials } from '@herald/config';
import { APPS, type AppName, readLauncherConfig } from './launcher.config';
import { ManagedProcess } from './managed-process';
import { httpStatus, portFree, portOpen, probeRedis } from './probes';
import { Watchdog } from './watchdog';

import * as redisHarness from '@herald/test-harness';

export { APPS, type AppName } from './launcher.config';

export const REPO_ROOT = resolve(__dirname, '../../..');

export interface GatewayOptions {
  /**
   * Where the broker, Redis (when started here), the admin key and the apps' development secret
   * key live, over HERALD_DATA_DIR; relative to the repository root. Default `.data`.
   */
  dataDir?: string;
  /**
   * Environment for the apps, over this process's; REDIS_URL, KAFKA_BROKERS, HERALD_ADMIN_KEY and
   * the port variables in it are honoured (empty or blank counts as unset, as in libs/config).
   */
  env?: Record<string, string | undefined>;
  /** Ports, over the port variables; defaults are SPEC §1's. */
  ports?: Partial<Record<AppName | 'broker', number>>;
  onLine?: (name: string, line: string) => void;
  log?: (message: string) => void;
  /** Aborting it while the gateway starts stops what was started so far; startGateway rejects. */
  signal?: AbortSignal;
}

export interface Gateway {
  urls: Record<AppName, string>;
  /** The Redis the apps use: the one at REDIS_URL, or the redis-server started here. */
  redisUrl: string;
  kafkaBrokers: string;
  adminKey: string;
  /** The data folder (HERALD_DATA_DIR), absolute. */
  dataDir: string;
  /** Every process this launcher started, in start order. */
  processes: Map<string, ManagedProcess>;
  /** Stops what this launcher started, apps first, and nothing else. */
  stop(): Promise<void>;
}

/** Why `npm start` can have no Redis for the apps, in words for whoever runs it. */
export class RedisSetupError extends Error {}

export class MissingRedisError extends RedisSetupError {
  constructor(url: string) {
    super(
      `No Redis answers at ${maskCredentials(url)} and redis-server is not installed.\n` +
        'Install it with:  sudo apt-get install -y redis-server   (macOS: brew install redis)\n' +
        'or point REDIS_URL at a running Redis.',
    );
  }
}

/** Certificates that chain to no CA this machine trusts, by OpenSSL's code. */
const UNTRUSTED_CHAIN = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/** What to do about a certificate that does not verify, by OpenSSL's or Node's code. */
function untrustedCertificateHint(reason: string): string {
  if (UNTRUSTED_CHAIN.has(reason))
    return "If a private CA signed it, point NODE_EXTRA_CA_CERTS at that CA's PEM file; ";
  if (reason === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return "It was issued for other names: use one of them as REDIS_URL's host; ";
  if (reason === 'CERT_HAS_EXPIRED' || reason === 'CERT_NOT_YET_VALID')
    return "It is not valid now: renew it (or set this machine's clock right); ";
  return '';
}

export class UntrustedRedisError extends RedisSetupError {
  constructor(url: string, reason: string) {
    super(
      `The Redis at ${maskCredentials(url)} presents a certificate this machine does not trust (${reason}), ` +
        'so neither npm start nor the apps can use it; its credentials were not sent.\n' +
        untrustedCertificateHint(reason) +
        'or point REDIS_URL at another Redis.',
    );
  }
}

/** A Redis answers at REDIS_URL, but with an error: one started here instead would hide that. */
export class RefusedRedisError extends RedisSetupError {
  constructor(url: string, reply: string) {
    const scheme = new URL(url).protocol;
    // Redis 6 and later say WRONGPASS or NOAUTH; earlier ones "ERR invalid password".
    const credentials = /^(WRONGPASS|NOAUTH)\b|^ERR invalid password/.test(reply)
      ? `Give REDIS_URL the user and password it expects (${scheme}//USER:PASSWORD@HOST:PORT, ` +
        `or ${scheme}//:PASSWORD@HOST:PORT for the default user), `
      : 'Fix that Redis, ';
    super(
      `The Redis at ${maskCredentials(url)} answers npm start with an error: ${reply}\n` +
        `${credentials}or point REDIS_URL at another Redis.`,
    );
  }
}

/**
 * Nothing answers at a rediss:// REDIS_URL. A redis-server started here would be neither the
 * Redis it names nor behind TLS, so none is: a typo or an outage must not go unnoticed.
 */
export class UnreachableRedisError extends RedisSetupError {
  constructor(url: string, why: string) {
    super(
      `No Redis answers over TLS at ${maskCredentials(url)} (${why}).\n` +
        'npm start starts no redis-server of its own for a rediss:// URL: start that Redis, ' +
        'or point REDIS_URL at another one (redis://127.0.0.1:6379 for one started here).',
    );
  }
}

function hasBinary(name: string): boolean {
  const dirs = (process.env.PATH ?? '').split(':');
  return dirs.some((dir) => dir !== '' && existsSync(join(dir, name)));
}

function adminKeyFor(dataDir: string, given: string | undefined): string {
  if (given !== undefined) return given;
  const file = join(dataDir, 'admin-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = `hk_admin_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** A Redis for the apps; `stop` stops it when this launcher started it, and nothing otherwise. */
export interface GatewayRedis {
  url: string;
  /** The redis-server's, when this launcher started it. */
  pid?: number;
  stop(): Promise<void>;
}

export interface StartOrReuseRedisOptions {
  log?: (message: string) => void;
  /** Watches a redis-server started here from its spawn until it exits; default: none. */
  watchdog?: Pick<Watchdog, 'watch' | 'forget'>;
}

/**
 * The Redis at `url` when it answers (over TLS for rediss:, as the apps reach it). Otherwise, for
 * a redis: URL, a redis-server started here with append-only files in `dir`. It listens on
 * `url`'s port when that is free on this machine (so the default is Redis's usual 6379, and a
 * redis-server a killed launcher left behind is found and reused next time instead of a second
 * one writing the same files), else on a free port. Throws a RedisSetupError when a Redis
 * answers with an error, when a rediss: one does not verify or does not answer, or when
 * redis-server is not installed.
 */
export async function startOrReuseRedis(
  url: string,
  dir: string,
  { log = () => undefined, watchdog }: StartOrReuseRedisOptions = {},
): Promise<GatewayRedis> {
  const probe = await probeRedis(url);
  // The apps could not use it either, and one started here instead would hide that.
  if (probe.untrustedCertificate !== undefined)
    throw new UntrustedRedisError(url, probe.untrustedCertificate);
  if (probe.errorReply !== undefined) throw new RefusedRedisError(url, probe.errorReply);
  if (probe.answers) {
    log(`Redis: using the one at ${maskCredentials(url)}`);
    return { url, stop: () => Promise.resolve() };
  }
  if (new URL(url).protocol === 'rediss:')
    throw new UnreachableRedisError(url, probe.failure ?? 'no answer');
  if (!hasBinary('redis-server')) throw new MissingRedisError(url);
  const preferred = Number(new URL(url).port || 6379);
  const redis = await redisHarness.startRedisServer({
    port: (await portFree('127.0.0.1', preferred)) ? preferred : undefined,
    dir,
    appendOnly: true,
    // Its own process group, like the apps: the launcher stops it after them.
    detached: true,
    // Watched while it starts too: a launcher killed meanwhile must not leave it running.
    onSpawn: (child) => {
      const { pid } = child;
      if (pid === undefined) return; // it never ran (no such binary)
      watchdog?.watch(pid, 'redis-server');
      // Once it exited, its pid may be given to another process.
      child.once('exit', () => watchdog?.forget(pid));
    },
  });
  log(
    `Redis: none answers at ${maskCredentials(url)} (${probe.failure ?? 'no answer'}); started redis-server (pid ${redis.pid}) on ${redis.url}, append-only files in ${dir}`,
  );
  return redis;
}

/**
 * Brings up the whole gateway on one machine, as `npm start` does: Redis (reused when one
 * answers at REDIS_URL; when none does at a redis:// one, started with append-only persistence
 * under the data folder), the embedded broker (unless KAFKA_BROKERS names real ones), then the
 * three apps. When starting fails or `options.signal` aborts, what was started so far is stopped
 * before it rejects.
 */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const env = { ...process.env, ...options.env };
  const config = readLauncherConfig(env);
  const log = options.log ?? (() => undefined);
  const signal = options.signal;
  const dataDir = resolve(REPO_ROOT, options.dataDir ?? config.dataDir);
  const processes = new Map<string, ManagedProcess>();
  const stops: (() => Promise<unknown>)[] = [];

  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
    stops.length = 0;
  };

  // Each process is stopped on the way out even if it never became ready.
  const startProcess = async (managed: ManagedProcess): Promise<void> => {
    processes.set(managed.name, managed);
    stops.push(() => managed.stop());
    await managed.start(signal);
  };

  const brokerCli = join(REPO_ROOT, 'libs/kafka-broker/bin/herald-broker.js');
  if (config.kafkaBrokers === undefined && !existsSync(brokerCli)) {
    throw new Error(
      'The embedded broker is not built in this checkout; set KAFKA_BROKERS to a Kafka you run.',
    );
  }

  try {
    signal?.throwIfAborted();
    // Stops them all if this process dies without stopping them; closed last, once they are.
    const watchdog = new Watchdog({ cwd: REPO_ROOT, env, log });
    stops.push(() => watchdog.close());
    mkdirSync(dataDir, { recursive: true });
    const redis = await startOrReuseRedis(config.redisUrl, join(dataDir, 'redis'), {
      log,
      watchdog,
    });
    stops.push(() => redis.stop());
    signal?.throwIfAborted();

    let kafkaBrokers = config.kafkaBrokers;
    if (kafkaBrokers === undefined) {
      const port = options.ports?.broker ?? 9092;
      kafkaBrokers = `127.0.0.1:${port}`;
      if (await portOpen('127.0.0.1', port)) {
        throw new Error(
          `Port ${port} is taken, so the embedded broker cannot start. Set KAFKA_BROKERS to use that Kafka.`,
        );
      }
      const broker = new ManagedProcess({
        name: 'broker',
        command: process.execPath,
        args: [brokerCli, '--port', String(port), '--data', join(dataDir, 'kafka')],
        env,
        cwd: REPO_ROOT,
        isReady: () => portOpen('127.0.0.1', port),
        onLine: options.onLine,
        watchdog,
      });
      await startProcess(broker);
      log(
        `Kafka: embedded broker (pid ${broker.pid}) on ${kafkaBrokers}, data in ${join(dataDir, 'kafka')}`,
      );
    } else {
      log(`Kafka: using ${kafkaBrokers}`);
    }

    const adminKey = adminKeyFor(dataDir, config.adminKey);
    const urls = {} as Record<AppName, string>;
    const appEnv = {
      ...env,
      REDIS_URL: redis.url,
      KAFKA_BROKERS: kafkaBrokers,
      HERALD_ADMIN_KEY: adminKey,
      // Without HERALD_SECRET_KEY the apps keep a key in this file: in the data folder too.
      HERALD_SECRET_KEY_FILE: env.HERALD_SECRET_KEY_FILE?.trim()
        ? env.HERALD_SECRET_KEY_FILE
        : join(dataDir, 'secret.key'),
    };
    for (const app of APPS) {
      const port = options.ports?.[app.name] ?? config.ports[app.name];
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
        watchdog,
      });
      await startProcess(managed);
      log(`${app.name}: ready on ${urls[app.name]} (pid ${managed.pid})`);
    }
    return { urls, redisUrl: redis.url, kafkaBrokers, adminKey, dataDir, processes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
