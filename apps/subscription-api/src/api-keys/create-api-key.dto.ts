import { z } from 'zod';
import { BOOTSTRAP_ADMIN_TENANT } from '@herald/auth';
import { TENANT_PATTERN } from '../subscriptions/create-subscription.dto';

export const createApiKeySchema = z
  .strictObject({
    name: z.string().min(1).max(100).describe('What the key is for.'),
    tenant: z
      .string()
      .regex(TENANT_PATTERN)
      .refine((tenant) => tenant !== BOOTSTRAP_ADMIN_TENANT, {
        message: `"${BOOTSTRAP_ADMIN_TENANT}" is reserved for the bootstrap admin key (HERALD_ADMIN_KEY)`,
      })
      .describe(
        `Letters, digits, _ and -; up to 64; not "${BOOTSTRAP_ADMIN_TENANT}" (the bootstrap admin key's).`,
      ),
    scopes: z
      .array(
        z.union([
          z.string(),
          z.strictObject({ scope: z.string(), types: z.array(z.string()).nullable().optional() }),
        ]),
      )
      .min(1)
      .describe(
        'Scopes, each optionally limited to type globs (all but admin): "events:publish", "subscriptions:write:order.*" or {"scope": "streams:read", "types": ["kitchen.**"]}. Scopes: events:publish, subscriptions:read, subscriptions:write, streams:read, admin.',
      ),
  })
  .describe('A new API key.');

export const listApiKeysQuerySchema = z.strictObject({
  tenant: z.string().regex(TENANT_PATTERN).optional(),
});
