import { InvalidRetryScheduleError } from './delivery.errors';
import {
  DEFAULT_RETRY_DELAYS_MS,
  decide,
  parseDuration,
  parseRetryAfter,
  parseRetryAfterList,
  parseRetrySchedule,
  type AttemptOutcome,
} from './retry-policy';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const mid = () => 0.5; // no jitter
const now = Date.parse('2025-03-01T12:00:00Z');
const response = (status: number, retryAfter?: string): AttemptOutcome => ({
  kind: 'response',
  status,
  headers: retryAfter === undefined ? {} : { 'retry-after': retryAfter },
});
const failure = (error: 'timeout' | 'connect' | 'refused_address' | 'network'): AttemptOutcome => ({
  kind: 'error',
  error,
  message: 'details',
});

describe('parseRetrySchedule', () => {
  it('parses the default schedule', () => {
    expect(DEFAULT_RETRY_DELAYS_MS).toEqual([5 * S, 5 * M, 30 * M, 2 * H, 5 * H, 10 * H, 10 * H]);
  });

  it.each([
    ['250ms', 250],
    ['5s', 5 * S],
    ['5m', 5 * M],
    ['2h', 2 * H],
    ['1d', 24 * H],
    [' 7d ', 7 * 24 * H],
  ])('reads %p as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(parseRetrySchedule([text])).toEqual([ms]);
  });

  it('accepts an empty schedule: one attempt, then dead letters', () => {
    expect(parseRetrySchedule([])).toEqual([]);
    expect(decide(response(500), 1, [], mid, now)).toMatchObject({ action: 'dead-letter' });
  });

  it.each([
    [
      ['5s', '5x'],
      'retry schedule entry 1 ("5x") is not a duration; use a whole number with ms, s, m, h or d',
    ],
    [['1.5h'], 'entry 0 ("1.5h") is not a duration'],
    [['-5s'], 'entry 0 ("-5s") is not a duration'],
    [['5'], 'entry 0 ("5") is not a duration'],
    [[5], 'entry 0 (5) is not a duration'],
    [[null], 'entry 0 (null) is not a duration'],
    [['0s'], 'entry 0 ("0s") must be more than 0 and at most 7d'],
    [['8d'], 'entry 0 ("8d") must be more than 0 and at most 7d'],
    ['5s', 'must be a list of durations'],
    [{ schedule: [] }, 'must be a list of durations'],
    [new Array(21).fill('1s'), 'has 21 entries; at most 20 are allowed'],
  ])('refuses %j', (schedule, message) => {
    expect(() => parseRetrySchedule(schedule)).toThrow(InvalidRetryScheduleError);
    expect(() => parseRetrySchedule(schedule)).toThrow(message);
  });
});

describe('decide', () => {
  const schedule = [10 * S, 1 * M, 5 * M];

  // The expected value is a decision or an asymmetric matcher for one.
  const cases: Array<[string, AttemptOutcome, number, unknown]> = [
    ['200 succeeds', response(200), 1, { action: 'success' }],
    ['204 succeeds', response(204), 3, { action: 'success' }],
    ['299 succeeds', response(299), 4, { action: 'success' }],
    [
      '410 disables',
      response(410),
      1,
      { action: 'disable', reason: expect.stringContaining('HTTP 410') as string },
    ],
    [
      '410 disables even on the last attempt',
      response(410),
      4,
      expect.objectContaining({ action: 'disable' }),
    ],
    [
      '500 retries after the 1st delay',
      response(500),
      1,
      { action: 'retry', delayMs: 10 * S, reason: 'HTTP 500' },
    ],
    [
      '500 retries after the 2nd delay',
      response(500),
      2,
      { action: 'retry', delayMs: 1 * M, reason: 'HTTP 500' },
    ],
    [
      '301 is a failure',
      response(301),
      1,
      { action: 'retry', delayMs: 10 * S, reason: 'HTTP 301' },
    ],
    ['302 is a failure', response(302), 3, { action: 'retry', delayMs: 5 * M, reason: 'HTTP 302' }],
    ['304 is a failure', response(304), 1, expect.objectContaining({ action: 'retry' })],
    [
      '400 retries',
      response(400),
      1,
      expect.objectContaining({ action: 'retry', delayMs: 10 * S }),
    ],
    [
      '404 retries',
      response(404),
      1,
      expect.objectContaining({ action: 'retry', delayMs: 10 * S }),
    ],
    [
      'timeout retries',
      failure('timeout'),
      1,
      { action: 'retry', delayMs: 10 * S, reason: 'timeout: details' },
    ],
    [
      'connect error retries',
      failure('connect'),
      2,
      expect.objectContaining({ action: 'retry', delayMs: 1 * M }),
    ],
    ['network error retries', failure('network'), 1, expect.objectContaining({ action: 'retry' })],
    [
      'refused address retries',
      failure('refused_address'),
      1,
      expect.objectContaining({ action: 'retry' }),
    ],
    [
      'a failure after the last delay dead-letters',
      response(503),
      4,
      { action: 'dead-letter', reason: 'gave up after 4 attempts; last: HTTP 503' },
    ],
    [
      'a timeout after the last delay dead-letters',
      failure('timeout'),
      4,
      { action: 'dead-letter', reason: 'gave up after 4 attempts; last: timeout: details' },
    ],
    [
      'a 3xx after the last delay dead-letters',
      response(307),
      4,
      expect.objectContaining({ action: 'dead-letter' }),
    ],
  ];

  it.each(cases)('%s', (_name, outcome, attempt, expected) => {
    expect(decide(outcome, attempt, schedule, mid, now)).toEqual(expected);
  });

  const retryAfter: Array<[string, number, string | undefined, number]> = [
    ['429 within the bounds is honoured', 429, '15', 15 * S],
    ['503 within the bounds is honoured', 503, '20', 20 * S],
    ['429 shorter than the schedule waits the schedule', 429, '1', 10 * S],
    ['429 of zero waits the schedule', 429, '0', 10 * S],
    ['429 longer than twice the schedule is capped', 429, '3600', 20 * S],
    ['an HTTP date is honoured', 503, 'Sat, 01 Mar 2025 12:00:12 GMT', 12 * S],
    ['a far HTTP date is capped', 503, 'Sat, 01 Mar 2025 13:00:00 GMT', 20 * S],
    ['a past HTTP date waits the schedule', 429, 'Sat, 01 Mar 2025 11:00:00 GMT', 10 * S],
    ['an RFC 850 date is honoured', 429, 'Saturday, 01-Mar-25 12:00:15 GMT', 15 * S],
    ['garbage falls back to the jittered schedule', 429, 'soon', 8 * S],
    ['an ISO date is not an HTTP date', 429, '2025-03-01T12:00:15Z', 8 * S],
    ['Retry-After on a 500 is ignored', 500, '15', 8 * S],
    ['Retry-After on a 302 is ignored', 302, '15', 8 * S],
    ['no Retry-After uses the jittered schedule', 503, undefined, 8 * S],
  ];

  it.each(retryAfter)('%s', (_name, status, header, delayMs) => {
    const lowest = () => 0; // jitter at its minimum shows where Retry-After bypasses it
    expect(decide(response(status, header), 1, schedule, lowest, now)).toMatchObject({
      action: 'retry',
      delayMs,
    });
  });

  // Two Retry-After headers reach the policy joined with `, ` (see WebhookClient), as does a list.
  const severalRetryAfter: Array<[string, string, number]> = [
    ['the longer of two seconds values wins', '15, 12', 15 * S],
    ['the longer of two seconds values wins in either order', '12,15', 15 * S],
    ['a date and seconds: the longer wins', 'Sat, 01 Mar 2025 12:00:12 GMT, 18', 18 * S],
    ['seconds and a date: the longer wins', '12, Sat, 01 Mar 2025 12:00:18 GMT', 18 * S],
    [
      'two dates: the later wins',
      'Sat, 01 Mar 2025 12:00:16 GMT, Sat, 01 Mar 2025 12:00:12 GMT',
      16 * S,
    ],
    ['an invalid value beside a valid one is skipped', 'soon, 16', 16 * S],
    ['a negative value beside a valid one is skipped', '-30, 14', 14 * S],
    ['the longest is still capped at twice the schedule', '15, 99999999999999999999', 20 * S],
    ['the longest is still raised to the schedule', '1, 2', 10 * S],
    ['nothing valid falls back to the jittered schedule', 'soon, -5, Sat', 8 * S],
  ];

  it.each(severalRetryAfter)('several Retry-After values: %s', (_name, header, delayMs) => {
    const lowest = () => 0;
    expect(decide(response(429, header), 1, schedule, lowest, now)).toMatchObject({
      action: 'retry',
      delayMs,
    });
  });

  it('clamps Retry-After against the delay of the current attempt', () => {
    expect(decide(response(429, '30'), 2, schedule, mid, now)).toMatchObject({ delayMs: 1 * M });
    expect(decide(response(429, '90'), 2, schedule, mid, now)).toMatchObject({ delayMs: 90 * S });
    expect(decide(response(429, '900'), 2, schedule, mid, now)).toMatchObject({ delayMs: 2 * M });
  });

  it('keeps jitter within ±20 % and covers the range', () => {
    const delays = Array.from({ length: 101 }, (_, i) => {
      const random = () => Math.min(i / 100, 0.999999);
      const decision = decide(response(500), 2, schedule, random, now);
      return decision.action === 'retry' ? decision.delayMs : NaN;
    });
    expect(Math.min(...delays)).toBe(48 * S);
    expect(Math.max(...delays)).toBeGreaterThan(71.9 * S);
    expect(Math.max(...delays)).toBeLessThanOrEqual(72 * S);
    expect(delays.every((d) => d >= 48 * S && d <= 72 * S)).toBe(true);
  });

  it('spreads real random delays within the bounds', () => {
    for (let i = 0; i < 1000; i += 1) {
      const decision = decide(failure('timeout'), 1, DEFAULT_RETRY_DELAYS_MS);
      expect(
        decision.action === 'retry' && decision.delayMs >= 4 * S && decision.delayMs <= 6 * S,
      ).toBe(true);
    }
  });

  it('refuses an attempt number below 1', () => {
    expect(() => decide(response(500), 0, schedule)).toThrow(RangeError);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter(' 120 ', now)).toBe(120 * S);
    expect(parseRetryAfter('Sat, 01 Mar 2025 12:01:00 GMT', now)).toBe(60 * S);
    expect(parseRetryAfter('Saturday, 01-Mar-25 12:01:30 GMT', now)).toBe(90 * S);
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
  });

  it('reads every HTTP date as GMT, whatever the server’s time zone, and nothing else as a date', () => {
    const zone = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      // asctime dates name no zone, and HTTP means GMT (Date.parse alone reads them as local time).
      expect(parseRetryAfter('Sat Mar  1 12:00:30 2025', now)).toBe(30 * S);
      expect(parseRetryAfter('Sat, 01 Mar 2025 12:01:00 GMT', now)).toBe(60 * S);
      for (const junk of ['Mon 5', 'Sat, 01 Mar 2025 12:01:00', '2025-03-01T12:01:00Z', 'Sat'])
        expect(parseRetryAfter(junk, now)).toBeUndefined();
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});

describe('parseRetryAfterList', () => {
  it('reads one value as parseRetryAfter does, and the longest of several', () => {
    expect(parseRetryAfterList('Sat, 01 Mar 2025 12:01:00 GMT', now)).toBe(60 * S);
    expect(parseRetryAfterList('Saturday, 01-Mar-25 12:01:30 GMT, 5', now)).toBe(90 * S);
    expect(parseRetryAfterList('Sat Mar  1 12:00:30 2025, 20', now)).toBe(30 * S);
    expect(parseRetryAfterList('Sat, 01 Mar 2025 11:00:00 GMT, 7', now)).toBe(7 * S);
    expect(parseRetryAfterList(' , 7 ,', now)).toBe(7 * S);
    expect(parseRetryAfterList(`${'x,'.repeat(5000)}9`, now)).toBe(9 * S);
    for (const junk of ['', ',', 'Sat, soon', '1.5, -2', 'Sat, 01 Mar 2025 12:01:00'])
      expect(parseRetryAfterList(junk, now)).toBeUndefined();
  });
});

describe('a request that cannot be sent', () => {
  it('is dead-lettered at once, not retried for days', () => {
    const unsendable: AttemptOutcome = {
      kind: 'error',
      error: 'invalid_request',
      message: 'not sent: invalid authorization header',
    };
    expect(decide(unsendable, 1, parseRetrySchedule(['5s', '1m']), mid, now)).toEqual({
      action: 'dead-letter',
      reason:
        'invalid_request: not sent: invalid authorization header: it cannot be sent, so it is not retried',
    });
  });
});
