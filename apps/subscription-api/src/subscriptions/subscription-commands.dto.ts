import { z } from 'zod';
import { MAX_CURSOR_CHARS } from '@herald/kafka';
import { mutableSubscriptionFields } from './create-subscription.dto';

/** Longest grace period a rotated-out secret may keep signing: 7 days. */
export const MAX_GRACE_SECONDS = 7 * 24 * 60 * 60;

export const rotateSecretSchema = z
  .strictObject({
    graceSeconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_GRACE_SECONDS)
      .default(86_400)
      .describe('How long the old secret keeps signing, in seconds (default 86400, 0 = at once).'),
    auth: mutableSubscriptionFields.auth
      .optional()
      .describe(
        'New credentials Herald presents to the endpoint, replacing the stored ones in the same change (null: none); absent: kept. Stored encrypted, never shown again. How a webhook with endpoint auth whose stored secrets do not open is repaired in place.',
      ),
  })
  .describe('Secret rotation (and, with `auth`, new endpoint credentials).');

export type RotateSecretDto = z.output<typeof rotateSecretSchema>;

const position = z
  .string()
  .min(1)
  .max(MAX_CURSOR_CHARS)
  .describe('An RFC 3339 time, or a stream cursor.');

export const replaySchema = z
  .strictObject({ from: position, to: position.optional() })
  .describe('Re-deliver what Kafka still holds from `from` (up to `to`, or now).');

export const redriveSchema = z
  .strictObject({
    ids: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(1000)
      .optional()
      .describe('Dead letters to deliver again; all not yet redriven when absent.'),
  })
  .describe('Redrive dead letters.');

export const listQuerySchema = z.strictObject({
  // Digits only (a coerced number would also read `0x10`, `1e1` and a blank).
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number from 1 to 100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(50),
  cursor: z.string().min(1).max(200).optional(),
});

export const deliveriesQuerySchema = listQuerySchema.extend({
  status: z.enum(['succeeded', 'failed']).optional(),
});
