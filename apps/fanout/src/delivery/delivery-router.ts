import type { IndexedSubscription } from '../subscriptions/compiled-subscription';
import type { SubscriptionIndex } from '../subscriptions/subscription-index';
import { filterView, type SourceEvent } from './source-event';

/**
 * The active webhook subscriptions `source` goes to: its type matches (within what the
 * subscription's key may see), it was stored after the subscription's start, it belongs to the
 * subscription's tenant when it is a tenant's internal event, and the filter accepts it.
 */
export function routeEvent(index: SubscriptionIndex, source: SourceEvent): IndexedSubscription[] {
  return matchingAmong(index.matching(source.event.type), source, true);
}

/** Of `candidates`, those `source` goes to (`live` false: a replay, without the start time). */
export function matchingAmong(
  candidates: readonly IndexedSubscription[],
  source: SourceEvent,
  live: boolean,
): IndexedSubscription[] {
  if (candidates.length === 0) return [];
  let view: Readonly<Record<string, unknown>> | undefined;
  const matched: IndexedSubscription[] = [];
  for (const candidate of candidates) {
    if (!acceptsSource(candidate, source, live)) continue;
    if (candidate.filter) {
      view ??= filterView(source);
      if (!safeFilter(candidate, view)) continue;
    }
    matched.push(candidate);
  }
  return matched;
}

/**
 * The checks that do not depend on the filter; also made again right before each attempt. The
 * start time applies to live delivery only: a replay re-sends from whatever time it asks for.
 */
export function acceptsSource(
  candidate: IndexedSubscription,
  source: SourceEvent,
  live = true,
): boolean {
  const { subscription } = candidate;
  if (live && source.timestampMs < candidate.sinceMs) return false;
  // Herald's own events about a tenant go to that tenant only.
  if (source.event.type.startsWith('herald.') && source.tenant !== subscription.tenant)
    return false;
  if (isNoticeAboutNotice(source)) return false;
  return true;
}

const EXHAUSTED_TYPE = 'herald.delivery.exhausted';

/**
 * Whether `source` is a `herald.delivery.exhausted` notice about the delivery of such a notice.
 * Those are published but sent to no webhook: a tenant's failing endpoints subscribed to the
 * notices would otherwise pass each failure's notice round (and multiply it) for ever.
 */
function isNoticeAboutNotice(source: SourceEvent): boolean {
  if (source.event.type !== EXHAUSTED_TYPE) return false;
  const { data } = source.event;
  return (
    typeof data === 'object' &&
    data !== null &&
    (data as { readonly type?: unknown }).type === EXHAUSTED_TYPE
  );
}

function safeFilter(
  candidate: IndexedSubscription,
  view: Readonly<Record<string, unknown>>,
): boolean {
  try {
    return candidate.filter!(view);
  } catch {
    // A filter that throws on an odd event matches nothing rather than stopping the partition.
    return false;
  }
}
