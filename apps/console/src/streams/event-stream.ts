import { ApiProblem, problemFromAnswer, unreachableProblem } from '../api/api-problem';
import { SseParser } from './sse-parser';

/** A CloudEvent as Herald's streams send it (structured JSON). */
export interface StreamedEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly time?: string;
  readonly subject?: string;
  readonly data?: unknown;
  readonly [attribute: string]: unknown;
}

export interface EventStreamRequest {
  /** fanout's base URL, like http://localhost:3002. */
  readonly streamsUrl: string;
  readonly key: string;
  readonly types: readonly string[];
  /** A filter as JSON text, or null. */
  readonly filter: string | null;
  /** `latest`, `earliest`, or an RFC 3339 time (events from then on). */
  readonly from: string;
  /** Resume right after this cursor instead of `from`. */
  readonly cursor: string | null;
}

/**
 * The SSE URL for a request. It never carries the key: URLs end up in proxy and access logs and
 * the browser's history, so the key travels in the `Authorization` header (eventStreamHeaders).
 */
export function eventStreamUrl(request: EventStreamRequest): string {
  const url = new URL('/v1/streams/sse', request.streamsUrl);
  if (request.types.length > 0) url.searchParams.set('types', request.types.join(','));
  if (request.filter !== null) url.searchParams.set('filter', request.filter);
  if (request.cursor !== null) url.searchParams.set('cursor', request.cursor);
  else url.searchParams.set('from', request.from);
  return url.toString();
}

/**
 * The stream request's headers, with the key as a bearer token. `access_token` (SPEC §7) is for
 * EventSource, which cannot set headers; fetch can, and fanout's CORS preflight allows it.
 */
export function eventStreamHeaders(request: EventStreamRequest): Record<string, string> {
  return { accept: 'text/event-stream', authorization: `Bearer ${request.key}` };
}

export interface EventStreamHandlers {
  readonly onOpen: () => void;
  /** Bytes arrived (an event, a heartbeat): the stream is alive up to now. */
  readonly onData?: () => void;
  /** Each event with the cursor right after it. */
  readonly onEvent: (event: StreamedEvent, cursor: string | null) => void;
  /** Each gap (records skipped because Kafka no longer holds them) with the cursor past it. */
  readonly onGap: (gap: StreamGap, cursor: string | null) => void;
  readonly signal: AbortSignal;
}

/** The event Herald sends before it closes a stream itself; its data is `{reason, cursor, message}`. */
export const STREAM_END_EVENT = 'herald.stream.end';

export interface EventStreamEnd {
  /** Where to resume: the last cursor the stream named. */
  readonly cursor: string | null;
  /** Why the server ended it (a StreamEndReason, or one newer than this console), when it said. */
  readonly reason: string | null;
  /** The server's words for the reason, when it gave them. */
  readonly message: string | null;
}

/** The reasons fanout ends a stream with (its `EndReason`s that reach a client). */
export type StreamEndReason =
  | 'slow_consumer'
  | 'shutdown'
  | 'server_error'
  | 'key_deleted'
  | 'subscription_deleted'
  | 'subscription_paused'
  | 'subscription_disabled'
  | 'subscription_changed';

/**
 * What a reader does after a stream ended: `resume` from its cursor (the server asked for that,
 * or the connection just closed), `retry` from its cursor after a pause that grows with each
 * failure in a row (the server failed), or `stop`, because connecting again cannot help until a
 * person changes something (the key or the subscription is gone, paused or disabled).
 */
export type StreamEndAction = 'resume' | 'retry' | 'stop';

const END_RULES: Record<StreamEndReason, { action: StreamEndAction; words: string }> = {
  slow_consumer: { action: 'resume', words: 'The console read the stream too slowly' },
  shutdown: { action: 'resume', words: 'The streams server is shutting down' },
  subscription_changed: {
    action: 'resume',
    words: "The stream subscription's types or filter changed",
  },
  server_error: { action: 'retry', words: 'The streams server failed' },
  key_deleted: { action: 'stop', words: 'The API key of this stream was deleted' },
  subscription_deleted: { action: 'stop', words: 'The stream subscription was deleted' },
  subscription_paused: { action: 'stop', words: 'The stream subscription was paused' },
  subscription_disabled: { action: 'stop', words: 'The stream subscription was disabled' },
};

function isStreamEndReason(reason: string): reason is StreamEndReason {
  return Object.prototype.hasOwnProperty.call(END_RULES, reason);
}

/**
 * What to do after `end`, and what to tell the user: the server's message, else the console's
 * words for the reason; null when the connection closed without a word. A reason newer than
 * this console is retried with the growing pause: it may pass, and it cannot loop fast.
 */
export function streamEndOutcome(end: EventStreamEnd): {
  readonly action: StreamEndAction;
  readonly message: string | null;
} {
  if (end.reason === null) return { action: 'resume', message: end.message };
  const rule = isStreamEndReason(end.reason) ? END_RULES[end.reason] : undefined;
  return {
    action: rule?.action ?? 'retry',
    message: end.message ?? rule?.words ?? `Herald ended the stream (${end.reason})`,
  };
}

/**
 * The event Herald sends when a stream resumed from a cursor older than what Kafka still holds
 * (retention removed the records after it): its id is the cursor past the gap, its data
 * `{topic, partition, requestedOffset, resumedOffset, skipped, cursor}`.
 */
export const STREAM_GAP_EVENT = 'herald.stream.gap';

/**
 * A gap as the console shows it: each field null when the server left it out or sent something
 * that is not one (the data comes from the network; it is never trusted to be well formed).
 */
export interface StreamGap {
  /** At most MAX_GAP_TOPIC_LENGTH characters. */
  readonly topic: string | null;
  readonly partition: number | null;
  /** Offsets as decimal strings, as fanout sends them (they may pass 2^53). */
  readonly requestedOffset: string | null;
  readonly resumedOffset: string | null;
  /** At most this many records (of any type on the partition) were skipped. */
  readonly skipped: number | null;
}

/** Kafka's own limit on a topic name; anything longer is not a topic and is cut. */
export const MAX_GAP_TOPIC_LENGTH = 249;
const OFFSET = /^\d{1,20}$/;

/** The fields of a gap event's data; nulls for what it lacks, or all of them when unreadable. */
export function parseStreamGap(data: string): StreamGap {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    // The gap still happened: the partner is told, in less detail.
    parsed = null;
  }
  const fields = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<
    string,
    unknown
  >;
  const { topic, partition, requestedOffset, resumedOffset, skipped } = fields;
  const count = (value: unknown) =>
    typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
  const offset = (value: unknown) =>
    typeof value === 'string' && OFFSET.test(value) ? value : null;
  return {
    topic:
      typeof topic === 'string' && topic !== ''
        ? oneLine(topic).slice(0, MAX_GAP_TOPIC_LENGTH)
        : null,
    partition: count(partition),
    requestedOffset: offset(requestedOffset),
    resumedOffset: offset(resumedOffset),
    skipped: count(skipped),
  };
}

/** Control characters and line breaks shown as spaces: a topic name is one line of text. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- exactly the characters to take out
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
}

/**
 * What the partner reads about a gap, as plain text: where, how many records at most (skipped
 * counts offsets, records of every type included), and where the tail went on.
 */
export function streamGapNotice(gap: StreamGap): string {
  const where =
    gap.topic === null
      ? ''
      : ` on ${gap.topic}${gap.partition === null ? '' : `/${gap.partition}`}`;
  const howMany =
    gap.skipped === null
      ? ''
      : ` (up to ${gap.skipped.toLocaleString('en-US')} record${gap.skipped === 1 ? '' : 's'}, of any type)`;
  const resumed = gap.resumedOffset === null ? '' : `, offset ${gap.resumedOffset}`;
  return `Kafka no longer holds the records after your position${where}${howMany}; the tail resumed at the oldest held${resumed}.`;
}

/**
 * Reads Herald's SSE stream with fetch rather than EventSource, so a refused request shows the
 * problem Herald answered (an EventSource only reports "error"). Resolves when the stream ends
 * (with the reason and message of the server's end event, when it sent one) or `signal`
 * aborts; throws an ApiProblem when it is refused or cannot be reached.
 */
export async function readEventStream(
  request: EventStreamRequest,
  handlers: EventStreamHandlers,
): Promise<EventStreamEnd> {
  let cursor = request.cursor;
  /** The stream closed (or was aborted) without the server's last words. */
  const closed = (): EventStreamEnd => ({ cursor, reason: null, message: null });
  let response: Response;
  try {
    response = await fetch(eventStreamUrl(request), {
      headers: eventStreamHeaders(request),
      signal: handlers.signal,
    });
  } catch (error) {
    if (handlers.signal.aborted) return closed();
    throw unreachableProblem(`the streams API at ${request.streamsUrl}`, error);
  }
  if (!response.ok || response.body === null) {
    throw problemFromAnswer(response.status, response.statusText, await response.text());
  }
  // Anything else with a 200 (a page, from a streams URL that names the wrong server) would read
  // as a stream that ends at once: "Connected", then a reconnect each second, forever.
  const contentType = response.headers.get('content-type') ?? '';
  if (!/^text\/event-stream\s*(;|$)/i.test(contentType)) {
    await response.body.cancel().catch(() => undefined);
    throw new ApiProblem(
      null,
      'Not an event stream',
      `${request.streamsUrl} answered ${contentType === '' ? 'without a content type' : contentType}, not an event stream: is it Herald's streams API (HERALD_STREAMS_URL)?`,
    );
  }
  handlers.onOpen();
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return closed();
      handlers.onData?.();
      for (const message of parser.push(decoder.decode(value, { stream: true }))) {
        cursor = message.id ?? cursor;
        if (message.event === STREAM_END_EVENT) {
          // The server's last words: nothing follows, so a connection that then breaks is no failure.
          const end = endOf(message.data);
          // The stream is over either way; a body that fails to close has nothing left to say.
          await reader.cancel().catch(() => undefined);
          return { cursor, ...end };
        }
        if (message.event === STREAM_GAP_EVENT) {
          handlers.onGap(parseStreamGap(message.data), message.id);
          continue;
        }
        if (message.event === 'message' || message.data === '') continue;
        let event: unknown;
        try {
          event = JSON.parse(message.data);
        } catch {
          throw new ApiProblem(
            null,
            'Unreadable event',
            `The stream sent: ${message.data.slice(0, 200)}`,
          );
        }
        if (typeof event === 'object' && event !== null && 'type' in event)
          handlers.onEvent(event as StreamedEvent, message.id);
      }
    }
  } catch (error) {
    if (handlers.signal.aborted) return closed();
    if (error instanceof ApiProblem) throw error;
    throw unreachableProblem(`the streams API at ${request.streamsUrl}`, error);
  } finally {
    reader.releaseLock();
  }
}

/** The reason and message of an end event's data; nulls for what it lacks or cannot be read. */
function endOf(data: string): { reason: string | null; message: string | null } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    // The end event still ends the stream; it just says nothing we can show.
    return { reason: null, message: null };
  }
  const { reason, message } = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as {
    reason?: unknown;
    message?: unknown;
  };
  return {
    reason: typeof reason === 'string' && reason !== '' ? reason : null,
    message: typeof message === 'string' && message !== '' ? message : null,
  };
}
