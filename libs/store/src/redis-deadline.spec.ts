import type { Logger } from '@herald/observability';
import { startRedisServer } from '@herald/test-harness';
import { RedisConnection } from './redis.connection';
import { queuedCommands as queued } from './testing';
import {
  RedisDeadline,
  RedisUnavailableError,
  type RedisUnavailableReason,
} from './redis-deadline';

const TIMEOUT_MS = 300;
const PROBE_INTERVAL_MS = 1000;
/** Requests arriving while Redis hangs or is gone, as a busy API gets them. */
const FLOOD = 200;

/** The log lines and metric counts of one deadline. */
function observed() {
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const line = (level: string) => (fields: Record<string, unknown>, message: string) =>
    lines.push({ level, message, fields });
  const logger = { warn: line('warn'), info: line('info') } as unknown as Logger;
  const counts = new Map<string, number>();
  const countUnavailable = (operation: string, reason: RedisUnavailableReason) =>
    counts.set(`${operation}/${reason}`, (counts.get(`${operation}/${reason}`) ?? 0) + 1);
  const logged = (prefix: string) => lines.filter((l) => l.message.startsWith(prefix));
  return { logger, counts, countUnavailable, logged };
}

async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether a call goes through now (rather than being refused or timing out). */
function answers(deadline: RedisDeadline<'read'>, redis: RedisConnection): Promise<boolean> {
  return deadline
    .run('read', () => redis.client.ping())
    .then(
      () => true,
      () => false,
    );
}

/** What each of `n` calls made at once came to, and how long the slowest took. */
async function flood(deadline: RedisDeadline<'read'>, redis: RedisConnection, n: number) {
  const started = Date.now();
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, (_, i) => deadline.run('read', () => redis.client.get(`k:${i}`))),
  );
  return {
    ms: Date.now() - started,
    unavailable: outcomes.filter(
      (o) => o.status === 'rejected' && o.reason instanceof RedisUnavailableError,
    ).length,
  };
}

describe('RedisDeadline circuit breaker', () => {
  let server: Awaited<ReturnType<typeof startRedisServer>>;
  let redis: RedisConnection;
  let port: number;
  const resume = () => {
    try {
      process.kill(server.pid, 'SIGCONT');
    } catch {
      // Gone already: nothing to resume.
    }
  };

  beforeEach(async () => {
    server = await startRedisServer();
    port = Number(new URL(server.url).port);
    redis = new RedisConnection({ url: server.url, prefix: 'deadline:' }, 'deadline-test');
    await redis.connect();
  });

  afterEach(async () => {
    resume();
    await redis.close();
    await server.stop();
  });

  function deadlineOf(seen: ReturnType<typeof observed>) {
    return new RedisDeadline<'read'>(redis, {
      timeoutMs: TIMEOUT_MS,
      retryAfterSeconds: 5,
      problem: { code: 'test.unavailable', detail: 'Redis did not answer' },
      countUnavailable: seen.countUnavailable,
      logger: seen.logger,
      probeIntervalMs: PROBE_INTERVAL_MS,
    });
  }

  it('while Redis hangs, leaves one command queued for the first miss, not one per request, and closes as soon as Redis answers', async () => {
    const seen = observed();
    const deadline = deadlineOf(seen);
    await redis.client.set('k:0', 'v');
    await expect(deadline.run('read', () => redis.client.get('k:0'))).resolves.toBe('v');
    expect([seen.counts.size, queued(redis)]).toEqual([0, 0]);

    process.kill(server.pid, 'SIGSTOP');
    let during: {
      first: unknown;
      flood: { ms: number; unavailable: number };
      queued: number;
      counts: Map<string, number>;
    };
    try {
      // The first call is sent and misses its deadline; the circuit opens.
      const first = await deadline
        .run('read', () => redis.client.get('k:0'))
        .catch((e: unknown) => e);
      const answers = await flood(deadline, redis, FLOOD);
      during = { first, flood: answers, queued: queued(redis), counts: new Map(seen.counts) };
    } finally {
      resume();
    }
    const resumedAt = Date.now();
    // Redis runs again: the probe is answered and calls go through.
    await until(() => answers(deadline, redis), 'a call to go through');
    const closedAfterMs = Date.now() - resumedAt;
    console.info(
      `RedisDeadline hang: ${FLOOD} calls answered in ${during.flood.ms} ms, ${during.queued} commands queued; calls went through ${closedAfterMs} ms after SIGCONT`,
    );
    // The call that missed its deadline and the one probe (PING); the old code: FLOOD + 1.
    expect(during.queued).toBeLessThanOrEqual(2);
    expect(during.first).toBeInstanceOf(RedisUnavailableError);
    expect((during.first as RedisUnavailableError).stillPending).toBe(true);
    expect(during.flood.unavailable).toBe(FLOOD);
    // Refused at once, not after the deadline.
    expect(during.flood.ms).toBeLessThan(TIMEOUT_MS);
    expect(Object.fromEntries(during.counts)).toEqual({
      'read/timeout': 1,
      'read/refused': FLOOD,
    });
    expect(closedAfterMs).toBeLessThan(PROBE_INTERVAL_MS);
    await expect(deadline.run('read', () => redis.client.get('k:0'))).resolves.toBe('v');
    expect(seen.logged('Redis circuit opened')).toHaveLength(1);
    // Counting the refusals of the calls that waited for it to close too.
    expect(seen.logged('Redis circuit closed')).toEqual([
      expect.objectContaining({
        level: 'info',
        fields: expect.objectContaining({ refused: seen.counts.get('read/refused') }),
      }),
    ]);
    // One line for the call sent and given up on; none for the refused ones.
    expect(seen.logged('gave up waiting for Redis')).toHaveLength(1);
  });

  it('while Redis is gone, refuses calls at once with at most the probe queued, and closes once it is back', async () => {
    const seen = observed();
    const deadline = deadlineOf(seen);
    await server.stop();
    await until(() => redis.client.status !== 'ready', 'the client to see Redis gone');
    const refused = await flood(deadline, redis, FLOOD);
    const left = queued(redis);
    console.info(
      `RedisDeadline gone: ${FLOOD} calls answered in ${refused.ms} ms, ${left} commands queued`,
    );
    // The probe waits in the offline queue; the old code queued every read there.
    expect(left).toBeLessThanOrEqual(1);
    expect(refused.unavailable).toBe(FLOOD);
    expect(refused.ms).toBeLessThan(TIMEOUT_MS);
    expect(Object.fromEntries(seen.counts)).toEqual({ 'read/refused': FLOOD });
    expect(seen.logged('Redis circuit opened')).toEqual([
      expect.objectContaining({
        fields: expect.objectContaining({ why: expect.stringContaining('connection is') }),
      }),
    ]);

    // A call that will not reach Redis runs all the same.
    await expect(
      deadline.run('read', () => Promise.resolve('from memory'), { needsRedis: false }),
    ).resolves.toBe('from memory');

    server = await startRedisServer({ port });
    const backAt = Date.now();
    await until(() => answers(deadline, redis), 'a call to go through');
    const closedAfterMs = Date.now() - backAt;
    console.info(`RedisDeadline gone: calls went through ${closedAfterMs} ms after Redis was back`);
    // The client reconnects with a backoff of up to 2 s; the probe is answered on reconnect.
    expect(closedAfterMs).toBeLessThan(2000 + PROBE_INTERVAL_MS);
    expect(seen.logged('Redis circuit closed')).toEqual([
      expect.objectContaining({
        fields: expect.objectContaining({ refused: seen.counts.get('read/refused') }),
      }),
    ]);
  });

  it('changes nothing while Redis answers', async () => {
    const seen = observed();
    const deadline = deadlineOf(seen);
    const counted = await Promise.all(
      Array.from({ length: FLOOD }, () => deadline.run('read', () => redis.client.incr('n'))),
    );
    expect(Math.max(...counted)).toBe(FLOOD);
    expect([seen.counts.size, seen.logged('Redis circuit')]).toEqual([0, []]);
  });
});
