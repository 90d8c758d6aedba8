import type { WebSocket } from 'ws';
import type { TailEntry } from './live-tail';
import { CLOSE_GRACE_MS, CLOSE_MAX_MS, dropWhenStuck } from './sse.sink';
import { END_MESSAGES, type EndReason, type StreamGap, type StreamSink } from './stream-connection';
import type { StreamEvent } from './stream-event';

const CLOSE_CODES: Record<EndReason, number> = {
  slow_consumer: 1008,
  shutdown: 1001,
  server_error: 1011,
  client_closed: 1000,
  done: 1000,
  key_deleted: 1008,
  subscription_deleted: 1008,
  subscription_paused: 1008,
  subscription_disabled: 1008,
  // "Service restart": connect again, and the subscription's new types and filter apply.
  subscription_changed: 1012,
  // Going away: the connection looks dead from here.
  unresponsive: 1001,
};

/** Pings left unanswered, a heartbeat apart, before a client is taken for gone. */
const UNANSWERED_PINGS = 2;

export function wsEventFrame(cursor: string, json: string): string {
  return `{"op":"event","cursor":${JSON.stringify(cursor)},"event":${json}}`;
}

/**
 * The WebSocket protocol of SPEC §7 on one socket. Events and protocol messages share one send
 * buffer of `maxBufferedBytes`: events wait while it is full; a client whose messages make the
 * server write while it is full is not read from until it drains, and one that still has it grow
 * to twice the bound (replies to messages read before that) is too slow (`onOverflow`).
 */
export class WsSink implements StreamSink {
  readonly transport = 'ws' as const;
  readonly dropWhenBehind = true;
  private closing = false;
  /** Pings sent since the last pong. */
  private pingsUnanswered = 0;

  constructor(
    private readonly socket: WebSocket,
    private readonly maxBufferedBytes: number,
    /** Called when a send has been flushed and the buffer is below half the bound again. */
    private readonly onDrain: () => void,
    /** Protocol messages have taken the buffer past twice its bound. */
    private readonly onOverflow: () => void = () => undefined,
    /** The last ping got no pong before the next heartbeat was due: the connection is dead. */
    private readonly onUnresponsive: () => void = () => undefined,
  ) {
    socket.on('pong', () => {
      this.pingsUnanswered = 0;
    });
  }

  full(): boolean {
    return this.socket.bufferedAmount >= this.maxBufferedBytes;
  }

  send(event: StreamEvent, cursor: string, entry: TailEntry | null): void {
    const frame = entry
      ? (entry.frames.ws ??= wsEventFrame(cursor, event.json))
      : wsEventFrame(cursor, event.json);
    this.write(frame);
  }

  /**
   * Pings an idle client. Clients answer pings on their own (RFC 6455); one that has answered
   * neither of its last two pings by the next heartbeat is gone (a peer that vanished without
   * closing: only TCP would notice, after many minutes), and is reported rather than pinged
   * again. Two, not one: a pong that arrived while this process was busy is still unread when
   * the heartbeat's timer fires.
   */
  heartbeat(): void {
    if (this.socket.readyState !== this.socket.OPEN || this.closing) return;
    if (this.pingsUnanswered >= UNANSWERED_PINGS) {
      this.onUnresponsive();
      return;
    }
    this.pingsUnanswered += 1;
    this.socket.ping();
  }

  gap(gap: StreamGap, cursor: string): void {
    this.write(JSON.stringify({ op: 'gap', ...gap, cursor }));
  }

  /** A protocol message other than an event (`subscribed`, `acked`, `error`). */
  message(message: Record<string, unknown>): void {
    this.write(JSON.stringify(message));
    if (this.full()) {
      // Read no more of its messages (each may need a reply) until what is queued drains.
      if (!this.socket.isPaused) this.socket.pause();
      if (this.socket.bufferedAmount >= 2 * this.maxBufferedBytes && !this.closing)
        this.onOverflow();
    }
  }

  end(reason: EndReason, cursor: string): void {
    const message = END_MESSAGES[reason];
    this.write(
      JSON.stringify({ op: 'end', reason, cursor, ...(message === undefined ? {} : { message }) }),
    );
    this.close(CLOSE_CODES[reason], reason, reason === 'shutdown' ? CLOSE_GRACE_MS : CLOSE_MAX_MS);
  }

  /**
   * Closes the socket after what is queued; a client that stops taking its last bytes is
   * dropped (`dropWhenStuck`).
   */
  close(code: number, reason: string, maxMs = CLOSE_MAX_MS): void {
    if (this.closing) return;
    this.closing = true;
    // Its close frame must be read for the close handshake to finish.
    if (this.socket.isPaused) this.socket.resume();
    this.socket.close(code, reason);
    const cancel = dropWhenStuck(
      () => this.socket.bufferedAmount,
      () => this.socket.terminate(),
      maxMs,
    );
    this.socket.once('close', cancel);
  }

  private write(frame: string): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    // ws has no drain event of its own; a flushed send with room left is the signal.
    this.socket.send(frame, (error) => {
      if (error || this.socket.bufferedAmount >= this.maxBufferedBytes / 2) return;
      if (this.socket.isPaused && !this.closing) this.socket.resume();
      this.onDrain();
    });
  }
}
