import { InvalidRetryScheduleError } from './delivery.errors';

/** The schedule a subscription gets when it names none: 8 attempts over about 32 hours. */
export const DEFAULT_RETRY_SCHEDULE: readonly string[] = [
  '5s',
  '5m',
  '30m',
  '2h',
  '5h',
  '10h',
  '10h',
];

/** Delays between attempts in milliseconds: entry n is the wait after failed attempt n + 1. */
export type RetryDelays = readonly number[];

/** Longest single delay: a week, about as long as Kafka keeps the event being retried. */
export const MAX_RETRY_DELAY_MS = 7 * 24 * 60 * 60 * 1000;
export const MAX_RETRY_SCHEDULE_LENGTH = 20;
/** Each scheduled delay is spread by up to ±20 % so failed receivers are not hit in lockstep. */
export const RETRY_JITTER = 0.2;

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};
const DURATION = /^(\d{1,12})(ms|s|m|h|d)$/;

/** Milliseconds in a duration like `500ms`, `5s`, `5m`, `2h`, `1d`; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const [, amount = '', unit = ''] = match;
  const unitMs = UNIT_MS[unit];
  return unitMs === undefined ? undefined : Number(amount) * unitMs;
}

/** Validates a schedule such as `["5s","5m","30m"]` and returns its delays; errors name the bad entry. */
export function parseRetrySchedule(schedule: unknown): RetryDelays {
  if (!Array.isArray(schedule)) {
    throw new InvalidRetryScheduleError(
      'the retry schedule must be a list of durations like ["5s", "5m", "2h"]',
    );
  }
  if (schedule.length > MAX_RETRY_SCHEDULE_LENGTH) {
    throw new InvalidRetryScheduleError(
      `the retry schedule has ${schedule.length} entries; at most ${MAX_RETRY_SCHEDULE_LENGTH} are allowed`,
    );
  }
  return schedule.map((entry: unknown, index) => {
    const delayMs = typeof entry === 'string' ? parseDuration(entry) : undefined;
    if (delayMs === undefined) {
      throw new InvalidRetryScheduleError(
        `retry schedule entry ${index} (${JSON.stringify(entry)}) is not a duration; ` +
          'use a whole number with ms, s, m, h or d, like 30s or 2h',
      );
    }
    if (delayMs <= 0 || delayMs > MAX_RETRY_DELAY_MS) {
      throw new InvalidRetryScheduleError(
        `retry schedule entry ${index} (${JSON.stringify(entry)}) must be more than 0 and at most 7d`,
      );
    }
    return delayMs;
  });
}

export const DEFAULT_RETRY_DELAYS_MS: RetryDelays = parseRetrySchedule(DEFAULT_RETRY_SCHEDULE);

/** How an attempt without an HTTP response failed. */
export type AttemptErrorKind =
  | 'timeout'
  | 'connect'
  | 'refused_address'
  | 'network'
  /** The request could not be put on the wire at all (a header value HTTP cannot carry): nothing was sent, and sending again cannot help. */
  | 'invalid_request';

/** What one delivery attempt produced, as far as the retry decision cares. */
export type AttemptOutcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      /** Response headers by lower-case name; only `retry-after` matters here. */
      readonly headers?: Readonly<Record<string, string | undefined>>;
    }
  | { readonly kind: 'error'; readonly error: AttemptErrorKind; readonly message?: string };

export type RetryDecision =
  | { readonly action: 'success' }
  | { readonly action: 'retry'; readonly delayMs: number; readonly reason: string }
  | { readonly action: 'dead-letter'; readonly reason: string }
  | { readonly action: 'disable'; readonly reason: string };

/** A number in [0, 1), like Math.random; injected so tests pin the jitter. */
export type RandomSource = () => number;

/**
 * What to do after attempt number `attempt` (1 for the first send) ended in `outcome`:
 * 2xx succeeds; 410 disables the subscription; anything else (3xx included, since redirects are
 * never followed) is retried after the scheduled delay with jitter, or dead-lettered once the
 * schedule is used up. 429 and 503 may stretch the delay with `Retry-After` (the longest of
 * several values), but only to between the scheduled delay and twice it, so a receiver can
 * neither hurry nor stall the schedule.
 * A request that cannot be sent at all (`invalid_request`) is dead-lettered at once.
 * An address refused at connect time is retried like a network error: DNS may change back or the
 * operator may widen the allow-list, and the engine's disable-after-days rule ends hopeless cases.
 */
export function decide(
  outcome: AttemptOutcome,
  attempt: number,
  delays: RetryDelays,
  random: RandomSource = Math.random,
  nowMs: number = Date.now(),
): RetryDecision {
  if (!Number.isInteger(attempt) || attempt < 1)
    throw new RangeError(`attempt must be 1 or more, not ${attempt}`);
  if (outcome.kind === 'response' && outcome.status >= 200 && outcome.status < 300)
    return { action: 'success' };
  const reason = describeOutcome(outcome);
  if (outcome.kind === 'response' && outcome.status === 410) {
    return { action: 'disable', reason: `${reason}: the receiver says the subscription is gone` };
  }
  if (outcome.kind === 'error' && outcome.error === 'invalid_request')
    return { action: 'dead-letter', reason: `${reason}: it cannot be sent, so it is not retried` };
  const scheduledMs = delays[attempt - 1];
  if (scheduledMs === undefined) {
    return { action: 'dead-letter', reason: `gave up after ${attempt} attempts; last: ${reason}` };
  }
  const retryAfterMs = honouredRetryAfterMs(outcome, nowMs);
  const delayMs =
    retryAfterMs === undefined
      ? jitter(scheduledMs, random)
      : clamp(retryAfterMs, scheduledMs, 2 * scheduledMs);
  return { action: 'retry', delayMs, reason };
}

/** `scheduledMs` spread uniformly over ±RETRY_JITTER, rounded to whole milliseconds. */
export function jitter(scheduledMs: number, random: RandomSource): number {
  return Math.round(scheduledMs * (1 + RETRY_JITTER * (2 * random() - 1)));
}

function honouredRetryAfterMs(outcome: AttemptOutcome, nowMs: number): number | undefined {
  if (outcome.kind !== 'response' || (outcome.status !== 429 && outcome.status !== 503))
    return undefined;
  const header = outcome.headers?.['retry-after'];
  return header === undefined ? undefined : parseRetryAfterList(header, nowMs);
}

/** IMF-fixdate and RFC 850 dates (both say GMT), and asctime dates (GMT without saying so). */
const GMT_DATE =
  /^[A-Za-z]{3},\s\d{2}\s[A-Za-z]{3}\s\d{4}\s\d{2}:\d{2}:\d{2}\sGMT$|^[A-Za-z]{6,9},\s\d{2}-[A-Za-z]{3}-\d{2}\s\d{2}:\d{2}:\d{2}\sGMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3}\s[A-Za-z]{3}\s[\s\d]\d\s\d{2}:\d{2}:\d{2}\s\d{4}$/;

/**
 * Milliseconds to wait according to a `Retry-After` value: delay-seconds or an HTTP date, always
 * GMT (a date in the past means 0). Undefined when the value is neither.
 */
export function parseRetryAfter(value: string, nowMs: number): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse accepts far more than HTTP dates and reads a date without a zone in the server's
  // own: only the three HTTP forms are taken, asctime as the GMT it means.
  let at: number;
  if (GMT_DATE.test(text)) at = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) at = Date.parse(`${text} GMT`);
  else return undefined;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The weekday that starts an IMF-fixdate or RFC 850 date, itself followed by a comma. */
const DATE_WEEKDAY = /^[A-Za-z]{3,9}$/;

/**
 * Milliseconds to wait according to a `Retry-After` field that may hold several values: a
 * response with the header twice arrives joined with `, ` (and some servers send a list). The
 * longest valid value wins, so Herald never retries sooner than any of them asks; values that
 * are neither seconds nor an HTTP date are skipped. Undefined when none is valid. The comma
 * inside an HTTP date (`Sat, 01 Mar 2025 …`) is told apart from the list's by its weekday.
 */
export function parseRetryAfterList(field: string, nowMs: number): number | undefined {
  const whole = parseRetryAfter(field, nowMs);
  if (whole !== undefined || !field.includes(',')) return whole;
  const parts = field.split(',');
  let longest: number | undefined;
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i]!;
    let ms: number | undefined;
    const rest = parts[i + 1];
    if (rest !== undefined && DATE_WEEKDAY.test(part.trim())) {
      ms = parseRetryAfter(`${part},${rest}`, nowMs);
      if (ms !== undefined) i += 1;
    }
    ms ??= parseRetryAfter(part, nowMs);
    if (ms !== undefined && (longest === undefined || ms > longest)) longest = ms;
  }
  return longest;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

/** One line for logs and dead letters: `HTTP 503`, `timeout: …`. */
export function describeOutcome(outcome: AttemptOutcome): string {
  if (outcome.kind === 'response') return `HTTP ${outcome.status}`;
  return outcome.message ? `${outcome.error}: ${outcome.message}` : outcome.error;
}
