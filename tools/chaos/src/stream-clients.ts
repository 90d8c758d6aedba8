import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { compileTypePattern } from '@herald/contract';
import type { LatencyRecorder } from './webhook-receivers';
import type { EventLedger } from './event-ledger';

/** The final SSE message fanout sends with the cursor to resume from. */
const END_EVENT = 'herald.stream.end';
const RECONNECT_MS = 500;

export interface StreamClientOptions {
  readonly name: string;
  readonly tenant: string;
  readonly key: string;
  /** Type patterns asked for (and the only types this client may ever see). */
  readonly types: readonly string[];
  /** Every concrete type the contract has, for SSE listeners. */
  readonly catalogTypes: readonly string[];
  readonly fanoutUrl: () => string;
  readonly ledger: EventLedger;
  readonly latency?: LatencyRecorder;
}

/**
 * What a stream client saw: how often each event id arrived, anything outside its types or
 * another tenant's operational event, and how often it had to reconnect.
 */
export abstract class StreamClient {
  readonly counts = new Map<string, number>();
  readonly outOfScope: string[] = [];
  /** Ids of the events in `outOfScope`: counted as cross-tenant, not as repeats. */
  readonly outOfScopeIds = new Set<string>();
  /** Reconnection attempts, and streams actually opened (the first one included). */
  reconnects = 0;
  opens = 0;
  received = 0;
  /** Set when the server refused the stream outright (4xx): it is not retried. */
  refused: string | undefined;
  lastCursor: string | undefined;
  protected closed = false;
  private readonly matchers: ((type: string) => boolean)[];

  constructor(readonly options: StreamClientOptions) {
    this.matchers = options.types.map((pattern) => compileTypePattern(pattern));
  }

  get name(): string {
    return this.options.name;
  }

  abstract get transport(): 'sse' | 'ws';
  abstract open(): void;
  abstract close(): void;

  matches(type: string): boolean {
    return this.matchers.some((matches) => matches(type));
  }

  protected onEvent(
    cursor: string,
    event: { id?: unknown; type?: unknown; data?: Record<string, unknown> },
  ): void {
    const receivedAt = Date.now();
    this.lastCursor = cursor;
    this.received += 1;
    const id = String(event.id);
    const type = String(event.type);
    this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
    if (!this.matches(type)) {
      this.outOfScope.push(`${type} (${id})`);
      this.outOfScopeIds.add(id);
    } else if (type.startsWith('herald.') && event.data?.tenant !== this.options.tenant) {
      this.outOfScope.push(`${type} of tenant ${String(event.data?.tenant)} (${id})`);
      this.outOfScopeIds.add(id);
    }
    const n = this.options.ledger.numberOf(id);
    if (n !== undefined && this.counts.get(id) === 1)
      this.options.latency?.record(this.options.ledger.events[n]!.sentAt, receivedAt);
  }

  protected reconnectSoon(): void {
    if (this.closed) return;
    this.reconnects += 1;
    setTimeout(() => {
      if (!this.closed) this.open();
    }, RECONNECT_MS).unref();
  }
}

/** SSE (`eventsource`): resumes with `Last-Event-ID` after every drop, including fanout's SIGKILL. */
export class SseStreamClient extends StreamClient {
  private source: EventSource | undefined;

  get transport(): 'sse' {
    return 'sse';
  }

  open(): void {
    const { key, types, catalogTypes, fanoutUrl } = this.options;
    const resumeFrom = this.lastCursor;
    const query = new URLSearchParams({ types: types.join(',') });
    if (resumeFrom === undefined) query.set('from', 'earliest');
    const source = new EventSource(`${fanoutUrl()}/v1/streams/sse?${query.toString()}`, {
      fetch: (input, init) =>
        fetch(input, {
          ...init,
          headers: {
            ...(init.headers as Record<string, string>),
            authorization: `Bearer ${key}`,
            ...(resumeFrom !== undefined ? { 'last-event-id': resumeFrom } : {}),
          },
        }),
    });
    this.source = source;
    const listen = (type: string): void =>
      source.addEventListener(type, (message: { data: string; lastEventId: string }) => {
        if (this.source !== source) return;
        if (type === END_EVENT) {
          // Fanout is stopping: it names the cursor to resume from.
          this.lastCursor = message.lastEventId;
          source.close();
          this.reconnectSoon();
          return;
        }
        this.onEvent(
          message.lastEventId,
          JSON.parse(message.data) as Parameters<StreamClient['onEvent']>[1],
        );
      });
    for (const type of catalogTypes) listen(type);
    listen(END_EVENT);
    source.onopen = () => {
      this.opens += 1;
    };
    source.onerror = (error: { code?: number; message?: string }) => {
      if (this.source !== source) return;
      source.close();
      if (error.code !== undefined && error.code >= 400 && error.code < 500) {
        this.refused = `${error.code} ${error.message ?? ''}`.trim();
        return;
      }
      this.reconnectSoon();
    };
  }

  close(): void {
    this.closed = true;
    this.source?.close();
  }
}

/** WebSocket (`ws`): subscribes again with the last cursor after every drop. */
export class WsStreamClient extends StreamClient {
  private socket: WebSocket | undefined;
  readonly errors: string[] = [];

  get transport(): 'ws' {
    return 'ws';
  }

  open(): void {
    const { key, types, fanoutUrl } = this.options;
    const socket = new WebSocket(`${fanoutUrl().replace(/^http/, 'ws')}/v1/streams/ws`, {
      headers: { authorization: `Bearer ${key}` },
    });
    this.socket = socket;
    const resumeFrom = this.lastCursor;
    let subscribed = false;
    socket.on('open', () => {
      socket.send(
        JSON.stringify({
          op: 'subscribe',
          types,
          ...(resumeFrom !== undefined ? { cursor: resumeFrom } : { from: 'earliest' }),
        }),
      );
    });
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString('utf8')) as {
        op?: string;
        cursor?: string;
        event?: Parameters<StreamClient['onEvent']>[1];
        message?: string;
      };
      if (message.op === 'event' && message.cursor !== undefined && message.event)
        this.onEvent(message.cursor, message.event);
      else if (message.op === 'subscribed') {
        subscribed = true;
        this.opens += 1;
      } else if (message.op === 'error') {
        this.errors.push(data.toString('utf8').slice(0, 300));
        // Refused before it started (fanout not ready yet): try again on a new socket.
        if (!subscribed) socket.close();
      } else if (message.op === 'end' && message.cursor !== undefined)
        this.lastCursor = message.cursor;
    });
    socket.on('error', () => {
      // Followed by 'close', which reconnects.
    });
    socket.on('close', () => {
      if (this.socket !== socket) return;
      this.reconnectSoon();
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }
}
