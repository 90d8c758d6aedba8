import { configFragment, env } from '@herald/config';
import { z } from 'zod';

/** HTTP listener settings of one app; each app has its own port variable and default (SPEC §1). */
export function httpServerConfig(portVariable: string, defaultPort: number) {
  return configFragment(
    {
      [portVariable]: env.port(defaultPort),
      HOST: z
        .string()
        .min(1)
        .default('0.0.0.0')
        .describe('an interface address to listen on (default 0.0.0.0)'),
      HERALD_MAX_REQUEST_BYTES: env.positiveInt(5 * 1024 * 1024, 'bytes'),
    },
    (v) => ({
      port: v[portVariable] as number,
      host: v.HOST as string,
      /** Largest request body any route accepts; routes may set smaller limits. */
      maxRequestBytes: v.HERALD_MAX_REQUEST_BYTES as number,
    }),
  );
}

export type HttpServerConfig = ReturnType<ReturnType<typeof httpServerConfig>['build']>;
