import { configFragment } from '@herald/config';
import { z } from 'zod';

/**
 * `HERALD_CONTRACTS`: the folder of AsyncAPI documents, relative to the working directory.
 * `HERALD_CONTRACT_CACHE`: where parses are kept between starts (`off` for nowhere; unset for
 * a private folder under the system's temporary folder).
 */
export const contractConfig = configFragment(
  {
    HERALD_CONTRACTS: z
      .string()
      .default('./asyncapi')
      .describe('a folder of AsyncAPI 3 documents (default ./asyncapi)'),
    HERALD_CONTRACT_CACHE: z
      .string()
      .optional()
      .describe(
        'a folder for parsed contract documents, or off (default: a private folder in the temporary folder)',
      ),
  },
  (v) => ({
    dir: v.HERALD_CONTRACTS,
    /** For loadContract: undefined is its default folder, false no disk cache. */
    cacheDir:
      v.HERALD_CONTRACT_CACHE === undefined || v.HERALD_CONTRACT_CACHE === ''
        ? undefined
        : v.HERALD_CONTRACT_CACHE === 'off'
          ? (false as const)
          : v.HERALD_CONTRACT_CACHE,
  }),
);

export type ContractConfig = ReturnType<typeof contractConfig.build>;
