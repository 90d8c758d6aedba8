import type { WebSocket } from 'ws';
import type { TailEntry } from './live-tail';
import { CLOSE_GRACE_MS } from './sse.sink';
import type { EndReason, StreamSink } from './stream-connection';
import type { StreamEvent } from './stream-event';

const CLOSE_CODES: Record<EndReason, number> = {
  slow_consumer: 1008,
  shutdown: 1001,
  server_error: 1011,
  client_closed: 1000,
  done: 1000,
};

export function wsEventFrame(cursor: string, json: string): string {
  return `{"op":"event","cursor":${JSON.stringify(cursor)},"event":${json}}`;
}

/** The WebSocket protocol of SPEC §7 on one socket. */
export class WsSink implements StreamSink {
  readonly transport = 'ws' as const;
  readonly dropWhenBehind = true;

  constructor(
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    /** Called when a send has been flushed and the buffer is below half the bound again. */
    private readonly onDrain: () => void,
  ) {}

  full(): boolean {
    return this.socket.bufferedAmount >= this.maxBufferedBytes;
  }

  send(event: StreamEvent, cursor: string, entry: TailEntry | null): void {
    const frame = entry
      ? (entry.frames.ws ??= wsEventFrame(cursor, event.json))
      : wsEventFrame(cursor, event.json);
    this.write(frame);
  }

  heartbeat(): void {
    this.socket.ping();
  }

  /** A protocol message other than an event (`subscribed`, `acked`, `error`). */
  message(message: Record<string, unknown>): void {
    this.write(JSON.stringify(message));
  }

  end(reason: EndReason, cursor: string): void {
    this.write(JSON.stringify({ op: 'end', reason, cursor }));
    this.socket.close(CLOSE_CODES[reason], reason);
    // A client that does not read its last bytes must not hold the socket (or a shutdown) forever.
    const timer = setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  private write(frame: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    // ws has no drain event of its own; a flushed send with room left is the signal.
    this.socket.send(frame, (error) => {
      if (!error && this.socket.bufferedAmount < this.maxBufferedBytes / 2) this.onDrain();
    });
  }
}
