import { configFragment } from '@herald/config';
import { z } from 'zod';

/** `HERALD_CONTRACTS`: the folder of AsyncAPI documents, relative to the working directory. */
export const contractConfig = configFragment(
  {
    HERALD_CONTRACTS: z
      .string()
      .default('./asyncapi')
      .describe('a folder of AsyncAPI 3 documents (default ./asyncapi)'),
  },
  (v) => ({ dir: v.HERALD_CONTRACTS }),
);

export type ContractConfig = ReturnType<typeof contractConfig.build>;
