import { configFragment, env, loadConfig } from '@herald/config';
import { z } from 'zod';

export const APPS = [
  { name: 'subscription-api', portVariable: 'SUBSCRIPTION_API_PORT', defaultPort: 3000 },
  { name: 'ingest-bridge', portVariable: 'INGEST_BRIDGE_PORT', defaultPort: 3001 },
  { name: 'fanout', portVariable: 'FANOUT_PORT', defaultPort: 3002 },
] as const;

export type AppName = (typeof APPS)[number]['name'];

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

// The variables the launcher itself acts on, read by the same rules and schemas as the apps read
// them (libs/config): empty or blank counts as unset, a bad value stops it naming the variable.
const launcherConfig = configFragment(
  {
    REDIS_URL: env.url(['redis', 'rediss'], DEFAULT_REDIS_URL),
    KAFKA_BROKERS: env.hostPortList(),
    HERALD_ADMIN_KEY: env.secret(16),
    HERALD_DATA_DIR: z
      .string()
      .min(1)
      .default('.data')
      .describe('a folder path, relative to the repository root or absolute (default .data)'),
    ...Object.fromEntries(APPS.map((app) => [app.portVariable, env.port(app.defaultPort)])),
  },
  (v) => ({
    redisUrl: v.REDIS_URL,
    /** Unset: the launcher runs the embedded broker. */
    kafkaBrokers: v.KAFKA_BROKERS?.join(','),
    /** Unset: the key kept in the data folder (made on first start). */
    adminKey: v.HERALD_ADMIN_KEY,
    /**
     * Where the embedded broker's data and log, a redis-server started here, the admin key and
     * the apps' development secret key live; relative to the repository root. Default `.data`.
     */
    dataDir: v.HERALD_DATA_DIR,
    ports: Object.fromEntries(
      APPS.map((app) => [app.name, (v as Record<string, unknown>)[app.portVariable] as number]),
    ) as Record<AppName, number>,
  }),
);

export type LauncherConfig = ReturnType<typeof launcherConfig.build>;

/** Reads the launcher's settings from `environment`; throws ConfigError naming each bad variable. */
export function readLauncherConfig(
  environment: Record<string, string | undefined>,
): LauncherConfig {
  return loadConfig({ launcher: launcherConfig }, environment).launcher;
}
