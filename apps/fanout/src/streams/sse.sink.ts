import type { ServerResponse } from 'node:http';
import type { TailEntry } from './live-tail';
import { END_MESSAGES, type EndReason, type StreamGap, type StreamSink } from './stream-connection';
import type { StreamEvent } from './stream-event';

/** The SSE event that closes a stream on the server's side; its data names the cursor to resume from. */
export const SSE_END_EVENT = 'herald.stream.end';

/** The SSE event telling of records skipped because Kafka no longer holds them (`StreamGap`). */
export const SSE_GAP_EVENT = 'herald.stream.gap';

/** How long an ended stream's last bytes may stand still before the socket is dropped. */
export const CLOSE_GRACE_MS = 5000;

/** How long an ended stream's last bytes may take in all while they still move (not on shutdown). */
export const CLOSE_MAX_MS = 60_000;

/**
 * Drops a transport that was told to close once its unsent bytes (`pending`) stop going down for
 * `CLOSE_GRACE_MS`, or after `maxMs` in all: a slow client that still reads gets its final
 * message (which waits behind everything queued before it); one that reads nothing does not
 * hold the socket. Returns the cancel, for when the transport closes first.
 */
export function dropWhenStuck(pending: () => number, drop: () => void, maxMs: number): () => void {
  const startedAt = Date.now();
  let last = pending();
  const timer = setInterval(() => {
    const now = pending();
    if (now === 0 || now >= last || Date.now() - startedAt + CLOSE_GRACE_MS > maxMs) {
      clearInterval(timer);
      drop();
    }
    last = now;
  }, CLOSE_GRACE_MS);
  timer.unref();
  return () => clearInterval(timer);
}

export function sseFrame(cursor: string, type: string, json: string): string {
  return `id: ${cursor}\nevent: ${type}\ndata: ${json}\n\n`;
}

/** Server-Sent Events on a raw HTTP response: `id` the cursor, `event` the type, `data` the CloudEvent. */
export class SseSink implements StreamSink {
  readonly transport = 'sse' as const;
  readonly dropWhenBehind = true;

  constructor(
    private readonly response: ServerResponse,
    private readonly maxBufferedBytes: number,
  ) {}

  full(): boolean {
    return this.response.writableLength >= this.maxBufferedBytes;
  }

  send(event: StreamEvent, cursor: string, entry: TailEntry | null): void {
    const frame = entry
      ? (entry.frames.sse ??= sseFrame(cursor, event.type, event.json))
      : sseFrame(cursor, event.type, event.json);
    this.response.write(frame);
  }

  heartbeat(): void {
    this.response.write(': heartbeat\n\n');
  }

  gap(gap: StreamGap, cursor: string): void {
    // With the cursor as its id, a client reconnecting after it is not told of the gap again.
    this.response.write(sseFrame(cursor, SSE_GAP_EVENT, JSON.stringify({ ...gap, cursor })));
  }

  end(reason: EndReason, cursor: string): void {
    const message = END_MESSAGES[reason];
    // With the cursor as its id, a browser's EventSource reconnects from the right place on its own.
    this.response.end(
      sseFrame(
        cursor,
        SSE_END_EVENT,
        JSON.stringify({ reason, cursor, ...(message === undefined ? {} : { message }) }),
      ),
    );
    // A client that does not read its last bytes must not hold the socket (or a shutdown) forever.
    const cancel = dropWhenStuck(
      () => this.response.writableLength,
      () => this.response.destroy(),
      reason === 'shutdown' ? CLOSE_GRACE_MS : CLOSE_MAX_MS,
    );
    this.response.once('close', cancel);
  }
}
