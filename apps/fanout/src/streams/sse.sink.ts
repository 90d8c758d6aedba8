import type { ServerResponse } from 'node:http';
import type { TailEntry } from './live-tail';
import type { EndReason, StreamSink } from './stream-connection';
import type { StreamEvent } from './stream-event';

/** The SSE event that closes a stream on the server's side; its data names the cursor to resume from. */
export const SSE_END_EVENT = 'herald.stream.end';

/** How long an ended stream's last bytes may take to leave before the socket is dropped. */
export const CLOSE_GRACE_MS = 5000;

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

  end(reason: EndReason, cursor: string): void {
    // With the cursor as its id, a browser's EventSource reconnects from the right place on its own.
    this.response.end(sseFrame(cursor, SSE_END_EVENT, JSON.stringify({ reason, cursor })));
    // A client that does not read its last bytes must not hold the socket (or a shutdown) forever.
    const timer = setTimeout(() => this.response.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.response.once('close', () => clearTimeout(timer));
  }
}
