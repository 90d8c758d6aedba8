import { configFragment, env } from '@herald/config';
import { z } from 'zod';

/** Where the partner console's static build lives, and what it is told about the streams API. */
export const consoleConfig = configFragment(
  {
    HERALD_CONSOLE_DIR: z
      .string()
      .min(1)
      .default('apps/console/dist')
      .describe(
        'the folder holding the built partner console, relative to the working directory (default apps/console/dist)',
      ),
    HERALD_STREAMS_URL: env.url(['http', 'https'], 'http://localhost:3002'),
  },
  (v) => ({
    /** The console's `vite build` output, served at `/console` (default apps/console/dist). */
    dir: v.HERALD_CONSOLE_DIR,
    /** fanout's public base URL, where the console opens its live tail (default http://localhost:3002). */
    streamsUrl: v.HERALD_STREAMS_URL.replace(/\/+$/, ''),
  }),
);

export type ConsoleConfig = ReturnType<typeof consoleConfig.build>;
