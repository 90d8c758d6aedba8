import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { compileTypePattern } from '@herald/contract';
import type { LatencyRecorder } from './webhook-receivers';
import type { EventLedger } from './event-ledger';

/** The final SSE message fanout sends with the cursor to resume from. */
const END_EVENT = 'herald.stream.end';
const RECONNECT_MS = 500;

/**
 * End reasons after which connecting again cannot help: the key or the stream subscription is
 * gone, paused or disabled. A run deletes, pauses and disables none of them, so each is a
 * finding. Every other reason (slow_consumer, shutdown, server_error, subscription_changed,
 * subscribe_timeout, one newer than this runner) is resumed from the cursor.
 */
export const FINAL_END_REASONS: ReadonlySet<string> = new Set([
  'key_deleted',
  'subscription_deleted',
  'subscription_paused',
  'subscription_disabled',
]);

/** The reason of an SSE end event's data (`{reason, cursor, message}`), `unknown` when it has none. */
function endReasonOf(data: string): string {
  try {
    const { reason } = JSON.parse(data) as { reason?: unknown };
    return typeof reason === 'string' && reason !== '' ? reason : 'unknown';
  } catch {
    // The end still ends the stream; it just does not say why.
    return 'unknown';
  }
}

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
 * another tenant's operational event, how often it had to reconnect, and why the server ended
 * its streams.
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
  /** Streams the server ended, by reason (its end message's, else its WebSocket close reason). */
  readonly ends = new Map<string, number>();
  /** Set when the server ended the stream for a reason in FINAL_END_REASONS: it is not resumed. */
  stoppedBy: string | undefined;
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

  /**
   * Counts a stream the server ended, and says whether to resume it: not after a final reason,
   * which stops this client.
   */
  protected ended(reason: string): boolean {
    this.ends.set(reason, (this.ends.get(reason) ?? 0) + 1);
    if (!FINAL_END_REASONS.has(reason)) return true;
    this.stoppedBy ??= reason;
    return false;
  }

  protected reconnectSoon(): void {
    if (this.closed || this.stoppedBy !== undefined || this.refused !== undefined) return;
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
          // Fanout ends the stream (it is stopping, the client is slow, …): it names the cursor
          // to resume from, and why.
          this.lastCursor = message.lastEventId;
          source.close();
          if (this.ended(endReasonOf(message.data))) this.reconnectSoon();
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
    /** The reason of the server's end message, when it sent one before closing. */
    let endReason: string | undefined;
    socket.on('unexpected-response', (_request, response) => {
      // Refused before the upgrade (a plain HTTP problem): a 4xx for good, anything else (503
      // while fanout starts or stops) is tried again once the socket closes.
      const status = response.statusCode ?? 0;
      if (status >= 400 && status < 500)
        this.refused = `${status} ${response.statusMessage ?? ''}`.trim();
      response.resume();
      socket.terminate();
    });
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
        reason?: string;
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
      } else if (message.op === 'end') {
        if (message.cursor !== undefined) this.lastCursor = message.cursor;
        endReason = message.reason || 'unknown';
      }
    });
    socket.on('error', () => {
      // Followed by 'close', which reconnects.
    });
    socket.on('close', (code: number, reason: Buffer) => {
      if (this.socket !== socket) return;
      // A socket closed without an end message still says why in its close frame when the
      // server closed it (1008 subscribe_timeout, a key deleted before it subscribed).
      const closeReason = reason.toString('utf8');
      const serverReason =
        endReason ?? (code !== 1000 && closeReason !== '' ? closeReason : undefined);
      if (serverReason !== undefined && !this.ended(serverReason)) return;
      this.reconnectSoon();
    });
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
  }
}
