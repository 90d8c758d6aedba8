import {
  SUBSCRIPTION_STATUSES,
  type SubscriptionKind,
  type SubscriptionStatus,
} from '@herald/store';
import {
  compileSubscription,
  type IndexedSubscription,
  type LoadedSubscription,
} from './compiled-subscription';

/** Told after a subscription was added, changed (`previous` set) or removed (`next` null). */
export type IndexListener = (
  previous: IndexedSubscription | null,
  next: IndexedSubscription | null,
) => void;

/**
 * Every subscription in memory, compiled, for the delivery engine and streams. Lookups by event
 * type are cached per type and the cache is dropped on any change, so routing an event costs a
 * map lookup plus the filters of the subscriptions its type matches.
 */
export class SubscriptionIndex {
  private readonly byId = new Map<string, IndexedSubscription>();
  private readonly byType = new Map<string, IndexedSubscription[]>();
  private readonly listeners = new Set<IndexListener>();

  get size(): number {
    return this.byId.size;
  }

  get(id: string): IndexedSubscription | undefined {
    return this.byId.get(id);
  }

  all(): IterableIterator<IndexedSubscription> {
    return this.byId.values();
  }

  /** Active subscriptions of `kind` whose types match `type` (filters not yet applied). */
  matching(type: string, kind: SubscriptionKind = 'webhook'): readonly IndexedSubscription[] {
    const cacheKey = `${kind}\u0000${type}`;
    let found = this.byType.get(cacheKey);
    if (!found) {
      found = [...this.byId.values()].filter(
        (entry) =>
          entry.subscription.kind === kind &&
          entry.subscription.status === 'active' &&
          entry.matchesType(type),
      );
      this.byType.set(cacheKey, found);
    }
    return found;
  }

  upsert(stored: LoadedSubscription): IndexedSubscription {
    const previous = this.byId.get(stored.subscription.id) ?? null;
    const next = compileSubscription(stored);
    this.byId.set(stored.subscription.id, next);
    this.byType.clear();
    this.notify(previous, next);
    return next;
  }

  remove(id: string): void {
    const previous = this.byId.get(id);
    if (!previous) return;
    this.byId.delete(id);
    this.byType.clear();
    this.notify(previous, null);
  }

  /** Replaces the whole index (a reload after missed notices): listeners hear every difference. */
  replaceAll(stored: readonly LoadedSubscription[]): void {
    const seen = new Set<string>();
    for (const entry of stored) {
      seen.add(entry.subscription.id);
      const current = this.byId.get(entry.subscription.id);
      if (current && current.subscription.version === entry.subscription.version) continue;
      this.upsert(entry);
    }
    for (const id of [...this.byId.keys()]) if (!seen.has(id)) this.remove(id);
  }

  countByStatus(): Record<SubscriptionStatus, number> {
    const counts = Object.fromEntries(SUBSCRIPTION_STATUSES.map((s) => [s, 0])) as Record<
      SubscriptionStatus,
      number
    >;
    for (const entry of this.byId.values()) counts[entry.subscription.status] += 1;
    return counts;
  }

  /** Webhooks whose secrets cannot be used (see `IndexedSubscription.secretsProblem`). */
  countSecretsProblems(): number {
    let count = 0;
    for (const entry of this.byId.values()) if (entry.secretsProblem !== null) count += 1;
    return count;
  }

  onChange(listener: IndexListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(previous: IndexedSubscription | null, next: IndexedSubscription | null): void {
    for (const listener of this.listeners) listener(previous, next);
  }
}
