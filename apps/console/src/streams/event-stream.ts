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
  readonly from: 'latest' | 'earliest';
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
  /** Each event with the cursor right after it. */
  readonly onEvent: (event: StreamedEvent, cursor: string | null) => void;
  readonly signal: AbortSignal;
}

/** The event Herald sends before it closes a stream itself (a slow reader, a shutdown). */
export const STREAM_END_EVENT = 'herald.stream.end';

export interface EventStreamEnd {
  /** Where to resume: the last cursor the stream named. */
  readonly cursor: string | null;
  /** Why the server ended it, when it said (`slow_consumer`, `shutdown`). */
  readonly reason: string | null;
}

/**
 * Reads Herald's SSE stream with fetch rather than EventSource, so a refused request shows the
 * problem Herald answered (an EventSource only reports "error"). Resolves when the server ends
 * the stream or `signal` aborts; throws an ApiProblem when it is refused or cannot be reached.
 */
export async function readEventStream(
  request: EventStreamRequest,
  handlers: EventStreamHandlers,
): Promise<EventStreamEnd> {
  let cursor = request.cursor;
  let reason: string | null = null;
  let response: Response;
  try {
    response = await fetch(eventStreamUrl(request), {
      headers: eventStreamHeaders(request),
      signal: handlers.signal,
    });
  } catch (error) {
    if (handlers.signal.aborted) return { cursor, reason };
    throw unreachableProblem(`the streams API at ${request.streamsUrl}`, error);
  }
  if (!response.ok || response.body === null) {
    throw problemFromAnswer(response.status, response.statusText, await response.text());
  }
  handlers.onOpen();
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { cursor, reason };
      for (const message of parser.push(decoder.decode(value, { stream: true }))) {
        cursor = message.id ?? cursor;
        if (message.event === STREAM_END_EVENT) {
          reason = endReasonOf(message.data);
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
    if (handlers.signal.aborted) return { cursor, reason };
    if (error instanceof ApiProblem) throw error;
    throw unreachableProblem(`the streams API at ${request.streamsUrl}`, error);
  } finally {
    reader.releaseLock();
  }
}

function endReasonOf(data: string): string | null {
  try {
    const parsed = JSON.parse(data) as { reason?: unknown };
    return typeof parsed.reason === 'string' ? parsed.reason : null;
  } catch {
    return null;
  }
}
