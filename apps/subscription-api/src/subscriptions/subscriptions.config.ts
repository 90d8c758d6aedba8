import { configFragment, env } from '@herald/config';
import { z } from 'zod';

/** Settings of the subscription API itself. */
export const subscriptionsConfig = configFragment(
  {
    HERALD_DEFAULT_VERIFICATION: env.oneOf(['none', 'websub', 'cloudevents'] as const, 'none'),
    HERALD_VERIFICATION_TIMEOUT_MS: env.positiveInt(10_000, 'milliseconds'),
    HERALD_WEBHOOK_ORIGIN: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name')
      .default('herald')
      .describe(
        'the host name Herald names as WebHook-Request-Origin in CloudEvents handshakes (default herald)',
      ),
    SUBSCRIPTION_API_MAX_BODY_BYTES: env.positiveInt(64 * 1024, 'bytes'),
    SUBSCRIPTION_API_REDIS_TIMEOUT_MS: env.positiveInt(2000, 'milliseconds'),
    HERALD_REDIS_RETRY_AFTER_SECONDS: env.positiveInt(5, 'seconds'),
  },
  (v) => ({
    /** Ownership check for webhooks that do not ask for one. */
    defaultVerification: v.HERALD_DEFAULT_VERIFICATION,
    /** How long an ownership check waits for the endpoint's answer (ms, default 10000). */
    verificationTimeoutMs: v.HERALD_VERIFICATION_TIMEOUT_MS,
    webhookOrigin: v.HERALD_WEBHOOK_ORIGIN,
    /** Largest request body this API accepts (bytes, default 65536); larger ones get 413. */
    maxBodyBytes: v.SUBSCRIPTION_API_MAX_BODY_BYTES,
    /**
     * How long a request waits for each Redis call (ms, default 2000) before it is answered 503;
     * none is even tried while Redis is disconnected or, after one missed this, until Redis
     * answers again (RedisDeadline's circuit).
     */
    redisTimeoutMs: v.SUBSCRIPTION_API_REDIS_TIMEOUT_MS,
    /** `Retry-After` sent with that 503 (seconds, default 5). */
    redisRetryAfterSeconds: v.HERALD_REDIS_RETRY_AFTER_SECONDS,
  }),
);

export type SubscriptionsConfig = ReturnType<typeof subscriptionsConfig.build>;
