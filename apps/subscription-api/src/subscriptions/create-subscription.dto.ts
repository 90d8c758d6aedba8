import { z } from 'zod';
import { MAX_RETRY_SCHEDULE_LENGTH } from '@herald/delivery';

/** Names used for tenants: what API keys carry and what Redis keys are built from. */
export const TENANT_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const MAX_TYPES = 50;
export const MAX_METADATA_KEYS = 50;
/**
 * The longest type glob: the glob syntax's own limit (`validateTypePattern` of @herald/contract,
 * which the streams and fanout apply too; a unit test holds the two equal).
 */
export const MAX_TYPE_GLOB_LENGTH = 256;
/**
 * The lowest `maxPerSecond` (requests per second). Fanout's token bucket then waits at most a
 * second between two requests, well within half a claim's lease (a parked retry claimed for a
 * lane with a lower rate could wait past its lease and be sent twice); a smaller positive value
 * (1e-9) would stop delivery for good.
 */
export const MIN_MAX_PER_SECOND = 1;
/** A subscription's `maxInFlight` when it names none (and every stream subscription's). */
export const DEFAULT_MAX_IN_FLIGHT = 16;

const typeGlobs = z
  .array(z.string().min(1).max(MAX_TYPE_GLOB_LENGTH))
  .min(1)
  .max(MAX_TYPES)
  .describe('Globs over event types: `*` one segment, `**` any number (`order.*`, `kitchen.**`).');

const filter = z
  .record(z.string(), z.unknown())
  .nullable()
  .describe(
    'MongoDB-style query over the CloudEvent (`type`, `source`, `subject`, `data.…`). Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex ($options) $and $or $not.',
  );

const auth = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('bearer'),
      token: z
        .string()
        .min(1)
        .max(4096)
        .regex(
          /^[\x21-\x7e]+$/,
          'visible ASCII characters only (no spaces, line breaks or other text): it is sent in the Authorization header',
        ),
    }),
    z.strictObject({
      type: z.literal('basic'),
      username: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[^:\p{Cc}]+$/u, 'no ":" or control characters (RFC 7617)'),
      password: z.string().max(1024),
    }),
  ])
  .nullable()
  .describe('Credentials Herald presents to the endpoint; stored encrypted, never shown again.');

const metadata = z
  .record(z.string().min(1).max(40), z.string().max(500))
  .refine((value) => Object.keys(value).length <= MAX_METADATA_KEYS, {
    message: `at most ${MAX_METADATA_KEYS} keys`,
  })
  .describe('Your own labels: up to 50 keys of 40 characters, values up to 500 characters.');

/** The fields a subscription has that PATCH may change (all optional there). */
export const mutableSubscriptionFields = {
  url: z.string().min(1).max(2048).describe('Webhook URL (http or https); webhooks only.'),
  types: typeGlobs,
  filter,
  format: z
    .enum(['cloudevents', 'standard', 'tmf688'])
    .describe('Webhook body format. Webhooks only (a stream takes only `cloudevents`).'),
  ordering: z
    .enum(['key', 'none'])
    .describe(
      '`key`: events with one key are delivered one at a time, in Kafka order. Webhooks only (a stream takes only `key`: its clients read in Kafka order).',
    ),
  maxInFlight: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .describe(
      `Deliveries in flight at once. Webhooks only (a stream takes only the default, ${DEFAULT_MAX_IN_FLIGHT}).`,
    ),
  maxPerSecond: z
    .number()
    .min(
      MIN_MAX_PER_SECOND,
      `must be at least ${MIN_MAX_PER_SECOND} (requests per second); null for no limit`,
    )
    .max(10_000)
    .nullable()
    .describe(
      `Requests per second to the endpoint, from ${MIN_MAX_PER_SECOND} to 10000 (fractions allowed: 2.5); null for no limit. Webhooks only.`,
    ),
  retry: z.strictObject({
    schedule: z
      .array(z.string().min(1).max(16))
      .min(1)
      .max(MAX_RETRY_SCHEDULE_LENGTH)
      .describe('Delays before each retry (`5s`, `5m`, `2h`); after the last, dead-letter.'),
  }),
  headers: z
    .record(z.string(), z.string())
    .describe('Extra request headers (not credentials: use `auth`).'),
  auth,
  verification: z
    .enum(['none', 'websub', 'cloudevents'])
    .describe('Ownership check before the subscription becomes active.'),
  description: z.string().max(500).nullable(),
  metadata,
};

export const createSubscriptionSchema = z
  .strictObject({
    kind: z.enum(['webhook', 'stream']).default('webhook'),
    tenant: z
      .string()
      .regex(TENANT_PATTERN)
      .optional()
      .describe('Admin keys only: the tenant to create it for (default: the key’s tenant).'),
    url: mutableSubscriptionFields.url.optional(),
    types: mutableSubscriptionFields.types,
    filter: mutableSubscriptionFields.filter.default(null),
    format: mutableSubscriptionFields.format.default('cloudevents'),
    ordering: mutableSubscriptionFields.ordering.default('key'),
    from: z
      .string()
      .min(1)
      .max(64)
      .default('latest')
      .describe(
        'Start position: `latest`, `earliest` or an RFC 3339 time. For a webhook, what Kafka holds from an earlier start until the subscription is created is sent as a replay (`herald-replay: true`, in order per key among itself) once it is active; live delivery starts at its creation.',
      ),
    maxInFlight: mutableSubscriptionFields.maxInFlight.default(DEFAULT_MAX_IN_FLIGHT),
    maxPerSecond: mutableSubscriptionFields.maxPerSecond.default(null),
    retry: mutableSubscriptionFields.retry.optional(),
    headers: mutableSubscriptionFields.headers.default({}),
    auth: mutableSubscriptionFields.auth.default(null),
    verification: mutableSubscriptionFields.verification.optional(),
    description: mutableSubscriptionFields.description.default(null),
    metadata: mutableSubscriptionFields.metadata.default({}),
  })
  .describe('A new webhook or durable stream subscription.');

export type CreateSubscriptionDto = z.output<typeof createSubscriptionSchema>;
