import type { EndReason, StreamGap, StreamSink } from './stream-connection';
import type { StreamEvent } from './stream-event';

/** A gap in a poll's answer, and where among the answer's events it fell. */
export interface PollGap extends StreamGap {
  /** How many of the answer's `events` came before it: it falls before `events[beforeEvent]`. */
  readonly beforeEvent: number;
}

/** What a poll's sink tells the poll. */
export interface PollSinkEvents {
  /** The first event arrived (the answer goes out on the next turn). */
  first(): void;
  /** Everything at hand has been read (the ring to its end, or one catch-up read from Kafka). */
  atRest(): void;
  /** The connection ended, by the poll itself or by the server (shutdown, a failed catch-up). */
  ended(reason: EndReason, cursor: string): void;
}

/**
 * Collects up to `limit` events for one long-poll answer, and no more than `maxBytes` of event
 * JSON: an event that would take the answer past it is left for the next poll (the answer's
 * cursor stops before it), unless the answer has none yet, so one event always goes.
 */
export class PollSink implements StreamSink {
  readonly transport = 'poll' as const;
  readonly dropWhenBehind = false;
  readonly events: Readonly<Record<string, unknown>>[] = [];
  readonly times: number[] = [];
  /** Records skipped because Kafka no longer holds them, in the order met, each placed among `events`. */
  readonly gaps: PollGap[] = [];
  /** Bytes of event JSON in the answer so far. */
  bytes = 0;
  private refused = false;

  constructor(
    private readonly limit: number,
    private readonly maxBytes: number,
    private readonly on: PollSinkEvents,
  ) {}

  full(): boolean {
    return this.refused || this.events.length >= this.limit || this.bytes >= this.maxBytes;
  }

  fits(event: StreamEvent): boolean {
    if (this.events.length === 0) return true;
    if (this.bytes + Buffer.byteLength(event.json) <= this.maxBytes) return true;
    this.refused = true;
    return false;
  }

  send(event: StreamEvent): void {
    this.bytes += Buffer.byteLength(event.json);
    this.events.push(event.event);
    this.times.push(event.timeMs);
    if (this.events.length === 1) this.on.first();
  }

  heartbeat(): void {
    // A poll answers within its wait; it needs no keep-alive.
  }

  gap(gap: StreamGap): void {
    // The answer's cursor is past the gap: the next poll is not told again.
    this.gaps.push({ ...gap, beforeEvent: this.events.length });
  }

  atRest(): void {
    this.on.atRest();
  }

  end(reason: EndReason, cursor: string): void {
    // The poll answers with its cursor in the response body.
    this.on.ended(reason, cursor);
  }
}
