import type { Logger } from '@herald/observability';
import {
  unreadableReason,
  type NoticeListener,
  type SubscriptionNotice,
  type SubscriptionNotices,
  type SubscriptionRepository,
} from '@herald/store';
import { NO_SECRETS, type LoadedSubscription } from './compiled-subscription';
import type { SubscriptionIndex } from './subscription-index';

/** Work the subscription API asked for (a replay or a redrive); the request is in the store. */
export type WorkListener = (notice: SubscriptionNotice) => void;

const RELOAD_RETRY_MS = 1000;

interface SeqAsked {
  readonly at: number;
  readonly seq: Promise<number>;
}

/**
 * Keeps the in-memory index equal to Redis: a full load at start, then the numbered change
 * notices (a gap is caught up from the notice log, a gap the log no longer covers reloads
 * everything). A notice only says what changed; the subscription is read again from Redis.
 */
export class SubscriptionIndexSync {
  private listener: NoticeListener | undefined;
  private readonly workListeners = new Set<WorkListener>();
  private loaded: Promise<void> | undefined;
  private stopped = false;
  /** Every change made before this time (ms) is in the index. */
  private freshAt = 0;
  private freshening: Promise<void> | undefined;
  /** The notice counter's read in flight, and when it was asked for. */
  private seqAsked: SeqAsked | undefined;

  constructor(
    private readonly index: SubscriptionIndex,
    private readonly repository: SubscriptionRepository,
    private readonly notices: SubscriptionNotices,
    private readonly logger: Logger,
  ) {}

  /** Loads and starts listening; resolves once the index holds every subscription. */
  start(): Promise<void> {
    this.loaded ??= this.loadAndListen();
    return this.loaded;
  }

  /**
   * Resolves once every change made up to `timestampMs` is in the index (true), or after
   * `maxWaitMs` without being sure of it (false: Redis did not answer, or the notices lag): an
   * event published after a subscription was created then reaches it even when the event
   * arrives before the change notice would have. Costs one Redis read when not already fresh.
   */
  async freshUntil(timestampMs: number, maxWaitMs = 2000): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    while (this.freshAt < timestampMs && Date.now() < deadline && !this.stopped) {
      this.freshening ??= this.freshen(deadline).finally(() => {
        this.freshening = undefined;
      });
      await this.freshening;
    }
    return this.freshAt >= timestampMs;
  }

  private async freshen(deadline: number): Promise<void> {
    try {
      const asked = this.askSeq();
      // Redis that hangs, or is away (ioredis queues the command until it is back), answers
      // only later: routing does not wait for it past the deadline.
      const latest = await beforeDeadline(asked.seq, deadline);
      if (latest === undefined) return;
      while (!this.stopped && (this.listener?.seq ?? -1) < latest && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 2));
      // The counter was read after it was asked for: it holds every change made before that.
      if ((this.listener?.seq ?? -1) >= latest) this.freshAt = Math.max(this.freshAt, asked.at);
    } catch (error) {
      this.logger.debug({ err: error }, 'could not check the index is fresh');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /**
   * Redis's notice counter, asked for once at a time: while Redis hangs, each look would
   * otherwise leave one more command waiting for it.
   */
  private askSeq(): SeqAsked {
    if (this.seqAsked === undefined) {
      const asked: SeqAsked = { at: Date.now(), seq: this.notices.currentSeq() };
      const done = () => {
        if (this.seqAsked === asked) this.seqAsked = undefined;
      };
      asked.seq.then(done, done);
      this.seqAsked = asked;
    }
    return this.seqAsked;
  }

  onWork(listener: WorkListener): void {
    this.workListeners.add(listener);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.listener?.close();
  }

  private async loadAndListen(): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const seq = await this.reload();
        this.listener = await this.notices.listen({
          afterSeq: seq,
          onNotice: (notice) => this.apply(notice),
          onResync: () => this.reload(),
          onError: (error) =>
            this.logger.warn({ err: error }, 'subscription notices: catching up failed'),
        });
        this.logger.info({ subscriptions: this.index.size, seq }, 'subscription index loaded');
        return;
      } catch (error) {
        this.logger.warn({ err: error, attempt }, 'could not load subscriptions; retrying');
        await new Promise((resolve) => setTimeout(resolve, RELOAD_RETRY_MS));
      }
    }
  }

  private async reload(): Promise<number> {
    const { seq, subscriptions, unreadable } = await this.repository.loadAll();
    const loaded: LoadedSubscription[] = [...subscriptions];
    for (const { id, error } of unreadable) {
      const reason = unreadableReason(error) ?? (error as Error).message;
      const record = await this.withoutSecrets(id, reason);
      if (record) loaded.push(record);
    }
    this.index.replaceAll(loaded);
    return seq;
  }

  private async apply(notice: SubscriptionNotice): Promise<void> {
    switch (notice.kind) {
      case 'subscription.created':
      case 'subscription.updated':
      case 'subscription.deleted': {
        const stored = await this.read(notice.subscriptionId);
        if (stored) this.index.upsert(stored);
        else this.index.remove(notice.subscriptionId);
        return;
      }
      case 'replay.requested':
      case 'redrive.requested':
        for (const listener of this.workListeners) listener(notice);
        return;
    }
  }

  /**
   * The subscription as stored, or null when it is gone. One whose secrets do not open comes
   * without them (it must not stop the notices of every other subscription, which a throw here
   * would: the listener reads the same notice again and again).
   */
  private async read(id: string): Promise<LoadedSubscription | null> {
    try {
      return await this.repository.getWithSecrets(id);
    } catch (error) {
      const reason = unreadableReason(error);
      if (reason === null) throw error;
      return this.withoutSecrets(id, reason);
    }
  }

  /** The public record of a subscription whose secrets did not open; null when that is unreadable too. */
  private async withoutSecrets(id: string, reason: string): Promise<LoadedSubscription | null> {
    try {
      const subscription = await this.repository.get(id);
      return subscription && { subscription, secrets: NO_SECRETS, secretsError: reason };
    } catch (recordError) {
      if (unreadableReason(recordError) === null) throw recordError;
      this.logger.error(
        { err: recordError, subscriptionId: id },
        'subscription cannot be opened; it gets no deliveries',
      );
      return null;
    }
  }
}

/** What `promise` resolves to by `deadline` (ms since the epoch), or undefined past it. */
function beforeDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now()));
  });
  // A late failure is nobody's concern any more; the next look asks again.
  promise.catch(() => undefined);
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
