import { configFragment, env } from '@herald/config';
import { z } from 'zod';

/** Stream settings (SPEC §7): the live tail's ring, per-connection bounds, timers. */
export const streamsConfig = configFragment(
  {
    STREAM_RING_EVENTS: env.positiveInt(10_000, 'events'),
    STREAM_RING_MAX_BYTES: env.positiveInt(64 * 1024 * 1024, 'bytes'),
    STREAM_SEND_BUFFER_BYTES: env.positiveInt(256 * 1024, 'bytes'),
    STREAM_SLOW_TIMEOUT_MS: env.positiveInt(30_000, 'milliseconds'),
    STREAM_HEARTBEAT_MS: env.positiveInt(15_000, 'milliseconds'),
    STREAM_MAX_CONNECTIONS_PER_KEY: env.positiveInt(100, 'connections'),
    // A timer waits it in milliseconds: at most 2^31 - 1 of those.
    STREAM_POLL_MAX_WAIT_S: env.positiveInt(30, 'seconds', { max: 2_147_483 }),
    STREAM_POLL_MAX_LIMIT: env.positiveInt(1000, 'events'),
    STREAM_POLL_MAX_BYTES: env.positiveInt(1024 * 1024, 'bytes'),
    STREAM_WS_SUBSCRIBE_TIMEOUT_MS: env.positiveInt(30_000, 'milliseconds'),
    STREAM_KEY_CHECK_MS: env.positiveInt(30_000, 'milliseconds'),
    STREAM_FETCH_MAX_WAIT_MS: env.positiveInt(100, 'milliseconds'),
    STREAM_TAIL_IDLE_MS: env.positiveInt(300_000, 'milliseconds'),
    STREAM_TAIL_PARTITION_CHECK_MS: env.positiveInt(30_000, 'milliseconds'),
    STREAM_REDIS_TIMEOUT_MS: env.positiveInt(2000, 'milliseconds'),
    HERALD_REDIS_RETRY_AFTER_SECONDS: env.positiveInt(5, 'seconds'),
    STREAM_CORS_ORIGINS: z
      .string()
      .default('http://localhost:3000,http://127.0.0.1:3000')
      .transform((v) =>
        v
          .split(',')
          .map((origin) => origin.trim())
          .filter(Boolean),
      )
      .refine((list) => list.every((origin) => origin === '*' || isOrigin(origin)), 'not origins')
      .describe(
        'origins whose pages may read the streams, comma-separated (https://console.example.com), or * (default http://localhost:3000,http://127.0.0.1:3000: the partner console in development)',
      ),
  },
  (v) => ({
    /** Most events the live tail keeps in memory for resuming clients (default 10,000). */
    ringEvents: v.STREAM_RING_EVENTS,
    /**
     * Most memory the ring's events may hold (default 64 MiB), each counted at what it holds once
     * streamed (`entryBytes`: about five times its payload and attributes, three times its cursor,
     * 8 bytes per partition and 1 KiB; a 1 KB event over a few partitions is about 6.5 KB);
     * whichever bound is hit first.
     */
    ringMaxBytes: v.STREAM_RING_MAX_BYTES,
    /**
     * Bytes a connection may have queued and unsent (default 256 KiB); past it the client is not
     * fed until it drains. A live client the ring then leaves behind is told its cursor and
     * disconnected.
     */
    sendBufferBytes: v.STREAM_SEND_BUFFER_BYTES,
    /** A client whose buffer stays full this long is disconnected too (ms, default 30 s). */
    slowTimeoutMs: v.STREAM_SLOW_TIMEOUT_MS,
    /** Idle connections get a heartbeat this often (ms, default 15 s). */
    heartbeatMs: v.STREAM_HEARTBEAT_MS,
    /** Open SSE and WebSocket streams plus waiting polls one API key may hold (default 100). */
    maxConnectionsPerKey: v.STREAM_MAX_CONNECTIONS_PER_KEY,
    /** Largest `wait` a poll may ask for (s, default 30). */
    pollMaxWaitSeconds: v.STREAM_POLL_MAX_WAIT_S,
    /** Largest `limit` a poll may ask for (default 1000). */
    pollMaxLimit: v.STREAM_POLL_MAX_LIMIT,
    /**
     * Most bytes of event JSON one poll answer holds (default 1 MiB): the event that would go
     * past it waits for the next poll. An answer always holds at least one event when one is there.
     */
    pollMaxBytes: v.STREAM_POLL_MAX_BYTES,
    /**
     * A WebSocket that has not subscribed this long after connecting is closed (ms, default 30 s;
     * close code 1008, reason `subscribe_timeout`). Until then it holds one of its key's places.
     */
    wsSubscribeTimeoutMs: v.STREAM_WS_SUBSCRIBE_TIMEOUT_MS,
    /**
     * How often the API keys of open streams are checked in Redis, one read per key in use (ms,
     * default 30 s): a stream whose key was deleted is ended (`key_deleted`). The fallback only:
     * a deletion's notice ends its streams at once, and the keys are checked at once whenever the
     * notice listener reconnects; this bounds a notice missed otherwise (a connection that hangs
     * without dropping, a key removed from Redis by hand).
     */
    keyCheckMs: v.STREAM_KEY_CHECK_MS,
    /** Longest one Kafka fetch of the tail or a catch-up reader waits for records (ms, default 100). */
    fetchMaxWaitMs: v.STREAM_FETCH_MAX_WAIT_MS,
    /**
     * The live tail starts with the first stream and stops once no stream (SSE, WebSocket or
     * waiting poll) has been open for this long (ms, default 5 minutes): a process that only
     * delivers webhooks does not read every record a second time.
     */
    tailIdleMs: v.STREAM_TAIL_IDLE_MS,
    /**
     * How often the running live tail asks Kafka for its topics' partitions (ms, default 30 s):
     * one added to a topic meanwhile is read from its oldest offset once found, so stream clients
     * get its events at most this late and miss none. Each check is one metadata and two
     * ListOffsets requests per channel topic.
     */
    partitionCheckMs: v.STREAM_TAIL_PARTITION_CHECK_MS,
    /**
     * How long a stream request, WebSocket upgrade or `ack` waits for each Redis call (API-key
     * lookup, durable subscription, its cursor) before it is answered 503 (ms, default 2000);
     * none is even tried while Redis is disconnected or, after one missed this, until Redis
     * answers again (RedisDeadline's circuit).
     */
    redisTimeoutMs: v.STREAM_REDIS_TIMEOUT_MS,
    /** `Retry-After` sent with that 503 (seconds, default 5). */
    redisRetryAfterSeconds: v.HERALD_REDIS_RETRY_AFTER_SECONDS,
    /** Origins whose pages may read `/v1/streams/*` (CORS), or `*` for any (default: the console in development). */
    corsOrigins: v.STREAM_CORS_ORIGINS,
  }),
);

/** `scheme://host[:port]` and nothing more, as browsers send it in `Origin`. */
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return /^https?:$/.test(url.protocol) && url.origin === text;
  } catch {
    return false;
  }
}

export type StreamsConfig = ReturnType<typeof streamsConfig.build>;
