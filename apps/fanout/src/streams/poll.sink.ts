import type { StreamSink } from './stream-connection';
import type { StreamEvent } from './stream-event';

/** Collects up to `limit` events for one long-poll answer. */
export class PollSink implements StreamSink {
  readonly transport = 'poll' as const;
  readonly dropWhenBehind = false;
  readonly events: Readonly<Record<string, unknown>>[] = [];
  readonly times: number[] = [];

  constructor(
    private readonly limit: number,
    /** Called once, when the first event arrives (the answer goes out on the next turn). */
    private readonly onFirst: () => void,
  ) {}

  full(): boolean {
    return this.events.length >= this.limit;
  }

  send(event: StreamEvent): void {
    this.events.push(event.event);
    this.times.push(event.timeMs);
    if (this.events.length === 1) this.onFirst();
  }

  heartbeat(): void {
    // A poll answers within its wait; it needs no keep-alive.
  }

  end(): void {
    // The poll answers with its cursor in the response body.
  }
}
