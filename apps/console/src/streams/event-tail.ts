import { ApiProblem, asProblem } from '../api/api-problem';
import {
  readEventStream,
  streamEndOutcome,
  streamGapNotice,
  type EventStreamRequest,
  type StreamedEvent,
  type StreamGap,
} from './event-stream';

/** How much earlier than it was last known alive a tail of new events resumes without a cursor. */
const LATEST_SKEW_MS = 2000;

/** A running tail's connection. */
export type TailState = 'connecting' | 'open' | 'reconnecting';

export interface EventTailHandlers {
  readonly signal: AbortSignal;
  /**
   * The connection's state, and while reconnecting, why: the words Herald ended the stream
   * with, or null when the connection failed or just closed.
   */
  readonly onState: (state: TailState, notice: string | null) => void;
  /** Each event with the cursor right after it. */
  readonly onEvent: (event: StreamedEvent, cursor: string | null) => void;
  /**
   * Records after the tail's position that Kafka no longer holds were skipped (the tail resumed
   * at the oldest record held): `notice` says so in plain text, for the partner.
   */
  readonly onGap: (notice: string, gap: StreamGap) => void;
  /** A failure that trying again may fix (no answer, a 5xx, a 429); the tail tries again. */
  readonly onTrouble: (problem: ApiProblem) => void;
  /** Waits `ms`, or less when `signal` aborts. Default: a timer. */
  readonly pause?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const FIRST_PAUSE_MS = 1000;
const LONGEST_PAUSE_MS = 15_000;
/**
 * A stream open this long before it closed without an event was a quiet stream that dropped (a
 * proxy's idle timeout, a network change), not a server closing at once: no backoff for it.
 */
const LIVED_LONG_MS = 30_000;

/** The pause before the next try: one second, doubling with each failure in a row, at most 15 s. */
export function retryPauseMs(failures: number): number {
  return Math.min(FIRST_PAUSE_MS * 2 ** failures, LONGEST_PAUSE_MS);
}

/**
 * Waits `ms`, or until `signal` aborts. The tail's one signal lives as long as the tail, through
 * every reconnect: each pause takes its abort listener away again, or they would pile up.
 */
export function pauseFor(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows Herald's SSE stream until `signal` aborts or following it cannot go on, reconnecting
 * from the last cursor when the connection drops or the server asks for it (slow_consumer,
 * shutdown, subscription_changed), and after a growing pause when it fails or closes soon after
 * opening without an event and without the server's end event (a server or proxy closing at once
 * would otherwise be reconnected to every second, forever); the pause starts over once an event
 * arrives or a stream stayed open a while.
 * Resolves with null once aborted, or with why it stopped by itself: Herald refused the stream
 * (a 4xx other than 429: a bad filter, unknown types, the key), or ended it for a reason that
 * connecting again cannot mend (the key or the subscription deleted, paused or disabled; the
 * problem's `code` is the reason and its `detail` Herald's message).
 */
export async function tailEventStream(
  request: Omit<EventStreamRequest, 'cursor'>,
  handlers: EventTailHandlers,
): Promise<ApiProblem | null> {
  const { signal } = handlers;
  const pause = handlers.pause ?? pauseFor;
  let cursor: string | null = null;
  let failures = 0;
  let notice: string | null = null;
  // A tail of new events that closes before its first event has no cursor to resume from: it
  // resumes from when the stream was last known alive (its first connect, then each open and
  // each heartbeat; a little early, against clock skew), or what was published during the pause
  // would never be shown. Nothing matched before then, so nothing is shown twice.
  let resumeFrom: string | null = null;
  const alive = (): void => {
    if (request.from === 'latest' && cursor === null)
      resumeFrom = new Date(Date.now() - LATEST_SKEW_MS).toISOString();
  };
  while (!signal.aborted) {
    handlers.onState(cursor === null ? 'connecting' : 'reconnecting', notice);
    notice = null;
    let events = 0;
    let openedAt: number | null = null;
    const from = resumeFrom ?? request.from;
    if (request.from === 'latest')
      resumeFrom ??= new Date(Date.now() - LATEST_SKEW_MS).toISOString();
    try {
      const end = await readEventStream(
        { ...request, from, cursor },
        {
          signal,
          onOpen: () => {
            openedAt = Date.now();
            alive();
            handlers.onState('open', null);
          },
          onData: alive,
          onEvent: (event, next) => {
            events += 1;
            failures = 0;
            cursor = next ?? cursor;
            handlers.onEvent(event, next);
          },
          onGap: (gap, next) => {
            // Past the gap: reconnecting from here is not told of it again.
            cursor = next ?? cursor;
            handlers.onGap(streamGapNotice(gap), gap);
          },
        },
      );
      if (signal.aborted) break;
      cursor = end.cursor ?? cursor;
      const outcome = streamEndOutcome(end);
      notice = outcome.message;
      if (outcome.action === 'stop')
        return new ApiProblem(
          null,
          'Herald ended the stream',
          outcome.message ?? '',
          [],
          end.reason,
        );
      // An event is progress, and so is a stream that stayed open a while; a gap or heartbeats
      // before a quick close do not end the backoff.
      const livedLong = openedAt !== null && Date.now() - openedAt >= LIVED_LONG_MS;
      const closedEmpty = end.reason === null && events === 0 && !livedLong;
      if (outcome.action === 'retry' || closedEmpty) failures += 1;
      else failures = 0;
    } catch (error) {
      if (signal.aborted) break;
      const problem = asProblem(error);
      // Herald said no (bad filter, unknown types, key): trying again will not help.
      if (problem.status !== null && problem.status < 500 && problem.status !== 429) return problem;
      handlers.onTrouble(problem);
      failures += 1;
    }
    await pause(retryPauseMs(failures), signal);
  }
  return null;
}
