import type { Logger } from '@herald/observability';
import type {
  NoticeListener,
  SubscriptionNotice,
  SubscriptionNotices,
  SubscriptionRepository,
} from '@herald/store';
import type { SubscriptionIndex } from './subscription-index';

/** Work the subscription API asked for (a replay or a redrive); the request is in the store. */
export type WorkListener = (notice: SubscriptionNotice) => void;

const RELOAD_RETRY_MS = 1000;

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
    const { seq, subscriptions } = await this.repository.loadAll();
    this.index.replaceAll(subscriptions);
    return seq;
  }

  private async apply(notice: SubscriptionNotice): Promise<void> {
    switch (notice.kind) {
      case 'subscription.created':
      case 'subscription.updated':
      case 'subscription.deleted': {
        const stored = await this.repository.getWithSecrets(notice.subscriptionId);
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
}
