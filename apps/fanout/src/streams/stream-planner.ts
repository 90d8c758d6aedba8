import type { Principal } from '@herald/auth';
import { compileTypePattern } from '@herald/contract';
import {
  isSortableId,
  SUBSCRIPTION_ID_PREFIX,
  type StreamCursorRepository,
  type Subscription,
  type SubscriptionRepository,
} from '@herald/store';
import {
  parseFilter,
  parseStart,
  parseTypes,
  resolveTypes,
  type StreamSelection,
  type StreamStart,
  type TypeCatalog,
} from './stream-request';
import type { StreamRedisDeadline } from './stream-redis-deadline';
import {
  InvalidStreamRequestError,
  StreamSubscriptionConflictError,
  StreamSubscriptionNotFoundError,
} from './streams.errors';
import { decodeCursor } from '@herald/kafka';

/** What a client asked for, as the transport received it (query values or a WebSocket message). */
export interface StreamAsk {
  readonly types?: unknown;
  readonly filter?: unknown;
  readonly from?: unknown;
  /** Cursors in order of preference (`Last-Event-ID`, `?cursor=`, a message's `cursor`). */
  readonly cursors: readonly unknown[];
  readonly subscription?: unknown;
}

export interface StreamPlan {
  readonly selection: StreamSelection;
  readonly start: StreamStart;
  /** The durable stream subscription this stream reads for, if any. */
  readonly subscriptionId: string | null;
  /** That subscription as planned from (its version, types and filter), for noticing changes. */
  readonly subscription: Subscription | null;
}

/**
 * Turns a client's ask into a plan: types expanded and checked against the key, the filter
 * compiled once, the start position; for `?subscription=` the subscription's own types and
 * filter, its tenant checked, and the start from the cursor given (which acknowledges it), else
 * the last acknowledged one, else the subscription's own start (see `durableStart`).
 */
export class StreamPlanner {
  constructor(
    private readonly catalog: TypeCatalog,
    private readonly subscriptions: SubscriptionRepository,
    private readonly cursors: StreamCursorRepository,
    /** Bounds each Redis call of a plan (503 `streams.unavailable` past it). */
    private readonly redis: StreamRedisDeadline,
  ) {}

  async plan(principal: Principal, ask: StreamAsk): Promise<StreamPlan> {
    if (ask.subscription === undefined || ask.subscription === null || ask.subscription === '') {
      const selection = {
        types: resolveTypes(parseTypes(ask.types), this.catalog, principal),
        filter: parseFilter(ask.filter),
        tenant: principal.isAdmin ? null : principal.tenant,
      };
      return {
        selection,
        start: parseStart(ask.cursors, ask.from),
        subscriptionId: null,
        subscription: null,
      };
    }
    if (typeof ask.subscription !== 'string')
      throw new InvalidStreamRequestError('subscription must be a subscription id');
    if (ask.types !== undefined || ask.filter !== undefined)
      throw new InvalidStreamRequestError(
        'A durable stream takes its types and filter from its subscription; do not pass them',
      );
    // Said rather than ignored: it resumes from its acknowledged cursor (or a cursor passed).
    if (ask.from !== undefined)
      throw new InvalidStreamRequestError(
        'A durable stream resumes where its client acknowledged (or from a cursor passed); do not pass from',
      );
    // Only a subscription id reaches Redis: anything else would name some other key.
    const id = ask.subscription;
    const subscription = isSortableId(id, SUBSCRIPTION_ID_PREFIX)
      ? await this.redis.run('read', () => this.subscriptions.get(id))
      : null;
    if (
      !subscription ||
      subscription.kind !== 'stream' ||
      !principal.ownsTenant(subscription.tenant)
    )
      throw new StreamSubscriptionNotFoundError(ask.subscription);
    if (subscription.status !== 'active')
      throw new StreamSubscriptionConflictError(
        `Subscription ${subscription.id} is ${subscription.status}; resume it to stream`,
      );
    const allowed = subscription.allowedTypes?.map((p) => compileTypePattern(p)) ?? null;
    const types = resolveTypes(subscription.types, this.catalog, principal);
    // Types added to the contract later that the creating key could not subscribe to stay out.
    if (allowed) for (const type of types) if (!allowed.some((m) => m(type))) types.delete(type);
    const selection = {
      types,
      filter: parseFilter(subscription.filter),
      tenant: subscription.tenant,
    };
    const given = parseStart(ask.cursors, undefined);
    if ('cursor' in given) {
      // A write: like every call, not tried while Redis is disconnected (see RedisDeadline).
      await this.redis.run('ack', () => this.cursors.acknowledge(subscription.id, given.text));
      return { selection, start: given, subscriptionId: subscription.id, subscription };
    }
    const acknowledged = await this.redis.run('read', () => this.cursors.get(subscription.id));
    const start: StreamStart = acknowledged
      ? { cursor: decodeCursor(acknowledged.cursor), text: acknowledged.cursor }
      : durableStart(subscription);
    return { selection, start, subscriptionId: subscription.id, subscription };
  }

  /** The cursor of an `ack`, checked to be one this server wrote. */
  ackCursor(cursor: unknown): string {
    if (typeof cursor !== 'string') throw new InvalidStreamRequestError('cursor must be a string');
    decodeCursor(cursor);
    return cursor;
  }

  /**
   * Records `cursor` (from `ackCursor`) as the subscription's acknowledged position. Not bounded
   * here: the WebSocket gateway writes a socket's acks one at a time (AckWriter) and bounds
   * the wait for them.
   */
  acknowledge(subscriptionId: string, cursor: string): Promise<void> {
    return this.cursors.acknowledge(subscriptionId, cursor);
  }
}

/**
 * Where a durable stream starts while nothing is acknowledged. `latest` means the end as it was
 * when the subscription was created, not at each connect: otherwise every reconnect before the
 * first ack would skip what was sent but not acknowledged and what came while the client was
 * away, breaking at-least-once (SPEC §7). Webhooks read `latest` the same way.
 */
export function durableStart(subscription: Pick<Subscription, 'from' | 'createdAt'>): StreamStart {
  if (subscription.from !== 'latest') return parseStart([], subscription.from);
  const timeMs = Date.parse(subscription.createdAt);
  // A record without a readable creation time loses nothing by starting at the beginning.
  return { from: Number.isNaN(timeMs) ? 'earliest' : { timeMs } };
}
