import { z } from 'zod';
import { configFragment, env } from '@herald/config';

/** The delivery engine's settings (the HTTP client's are in `@herald/delivery`'s fragment). */
export const fanoutDeliveryConfig = configFragment(
  {
    HERALD_FANOUT_GROUP: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,200}$/, 'letters, digits, ".", "_" or "-"')
      .default('herald-fanout')
      .describe('the Kafka consumer group of the delivery engine (default herald-fanout)'),
    HERALD_DELIVERY_MAX_BACKLOG: env.positiveInt(
      5000,
      'records read but unsettled per partition before it is paused',
    ),
    HERALD_DELIVERY_LANE_MEMORY: env.positiveInt(
      2000,
      'tasks a subscription holds in memory before parking new ones',
    ),
    HERALD_DELIVERY_ORIGIN_MAX_IN_FLIGHT: env.positiveInt(
      1024,
      'webhook attempts in flight at once to one origin, however fast it answers (slow ones aside)',
    ),
    HERALD_DELIVERY_ORIGIN_MIN_IN_FLIGHT: env.positiveInt(
      32,
      'the least an origin’s adaptive in-flight limit goes down to; set it to the maximum to turn adaptation off',
    ),
    HERALD_DELIVERY_SLOW_REQUEST_MS: env.positiveInt(
      1000,
      'milliseconds after which an attempt no longer counts against its origin’s in-flight limit',
    ),
    HERALD_DELIVERY_PARK_AFTER_MS: env.nonNegativeInt(
      1000,
      'milliseconds; retries waiting longer are parked in Redis',
    ),
    // Only compared with timestamps, never a timer's delay: weeks are fine.
    HERALD_DELIVERY_DISABLE_AFTER_MS: env.positiveInt(
      5 * 24 * 3600 * 1000,
      'milliseconds without a success before a failing subscription is disabled',
      { max: Number.MAX_SAFE_INTEGER },
    ),
    HERALD_DELIVERY_COMMIT_INTERVAL_MS: env.positiveInt(500, 'milliseconds between offset commits'),
    HERALD_DELIVERY_POLL_INTERVAL_MS: env.positiveInt(
      200,
      'milliseconds between looks for due parked retries',
    ),
    HERALD_DELIVERY_LOG: env.flag(true),
    HERALD_DELIVERY_CLAIM_LEASE_MS: env.positiveInt(
      30_000,
      'milliseconds a claimed replay or redrive stays with an instance that stopped renewing it',
    ),
    HERALD_DELIVERY_REPLAY_CONCURRENCY: env.positiveInt(
      4,
      'replays one fanout instance runs at once (more wait in the queue)',
    ),
    HERALD_DELIVERY_REPLAYS_PER_TENANT: env.positiveInt(
      2,
      'replays of one tenant running at once across all instances',
    ),
    HERALD_DEAD_LETTERS_MAX_PER_SUBSCRIPTION: env.positiveInt(
      100_000,
      'dead letters listed per subscription (the oldest go first; Kafka keeps them all)',
    ),
    HERALD_DEAD_LETTER_RETENTION_HOURS: env.positiveInt(
      336,
      'hours a dead letter stays listed (herald.dlq.delivery in Kafka keeps its own retention)',
    ),
    // Each page reads its events back through a consumer group of its own, and a new group's
    // first join waits out the broker's group.initial.rebalance.delay.ms (3 s by default).
    HERALD_DELIVERY_REDRIVE_PAGE_SIZE: env.positiveInt(
      2000,
      'dead letters a redrive reads back, hands to the engine and marks at a time',
      { max: 10_000 },
    ),
    HERALD_FANOUT_SESSION_TIMEOUT_MS: env.positiveInt(
      30_000,
      'milliseconds before the group hands a silent instance’s partitions to others',
    ),
  },
  (v) => ({
    group: v.HERALD_FANOUT_GROUP,
    maxBacklog: v.HERALD_DELIVERY_MAX_BACKLOG,
    laneMemory: v.HERALD_DELIVERY_LANE_MEMORY,
    /**
     * Attempts in flight across every lane of an instance, besides each subscription's own
     * `maxInFlight`: hundreds of busy subscriptions would otherwise hold thousands of requests
     * open at once. One outstanding for `slowAfterMs` stops counting, so a hanging endpoint
     * never holds the others back for longer.
     */
    /**
     * Attempts in flight to one origin (scheme, host, port), across the subscriptions sending
     * there, besides each one's own `maxInFlight`: a limit between `minInFlight` and
     * `maxInFlight` that adapts to what the origin serves without queueing (ConcurrencyLimit),
     * so a hundred busy subscriptions of one receiver do not hold thousands of requests open
     * there. One outstanding for `slowAfterMs` stops counting, so a hanging endpoint never holds
     * the others back for longer.
     */
    originBudget: {
      minInFlight: Math.min(
        v.HERALD_DELIVERY_ORIGIN_MIN_IN_FLIGHT,
        v.HERALD_DELIVERY_ORIGIN_MAX_IN_FLIGHT,
      ),
      maxInFlight: v.HERALD_DELIVERY_ORIGIN_MAX_IN_FLIGHT,
      slowAfterMs: v.HERALD_DELIVERY_SLOW_REQUEST_MS,
    },
    parkAfterMs: v.HERALD_DELIVERY_PARK_AFTER_MS,
    disableAfterMs: v.HERALD_DELIVERY_DISABLE_AFTER_MS,
    commitIntervalMs: v.HERALD_DELIVERY_COMMIT_INTERVAL_MS,
    pollIntervalMs: v.HERALD_DELIVERY_POLL_INTERVAL_MS,
    /** Record every attempt in the subscription's delivery log (the API shows it). */
    attemptLog: v.HERALD_DELIVERY_LOG,
    /**
     * The lease of a claimed replay or redrive, renewed every sixth of it while it runs: how soon
     * another instance takes over the work of one that died.
     */
    claimLeaseMs: v.HERALD_DELIVERY_CLAIM_LEASE_MS,
    sessionTimeoutMs: v.HERALD_FANOUT_SESSION_TIMEOUT_MS,
    /**
     * Replays run beside each other, up to this many an instance; a subscription runs one at a
     * time and a tenant `replaysPerTenant` across instances, so one long replay (a slow endpoint,
     * a low `maxPerSecond`) or one tenant's many hold up no one else's.
     */
    replayConcurrency: v.HERALD_DELIVERY_REPLAY_CONCURRENCY,
    replaysPerTenant: v.HERALD_DELIVERY_REPLAYS_PER_TENANT,
    /**
     * What the dead-letter list (the API's, the one redrives read) keeps per subscription: the
     * newest `maxPerSubscription`, none older than `maxAgeMs`. Trimmed as letters are added and
     * by a periodic sweep; `herald.dlq.delivery` holds every letter regardless.
     */
    deadLetterLimits: {
      maxPerSubscription: v.HERALD_DEAD_LETTERS_MAX_PER_SUBSCRIPTION,
      maxAgeMs: v.HERALD_DEAD_LETTER_RETENTION_HOURS * 3600 * 1000,
    },
    /** A redrive of all letters goes through them this many at a time, never all in memory. */
    redrivePageSize: v.HERALD_DELIVERY_REDRIVE_PAGE_SIZE,
  }),
);

export type FanoutDeliveryConfig = ReturnType<typeof fanoutDeliveryConfig.build>;
