import { compileEventFilter, compileTypePattern, type EventFilter } from '@herald/contract';
import {
  DEFAULT_RETRY_DELAYS_MS,
  decodeSecret,
  parseRetrySchedule,
  type RetryDelays,
} from '@herald/delivery';
import {
  backfillRange,
  secretsUnreadable,
  type BackfillRange,
  type StoredSubscription,
  type Subscription,
  type SubscriptionSecrets,
} from '@herald/store';

/**
 * A subscription as read from Redis. `secretsError` says why its sealed secrets did not open
 * (another HERALD_SECRET_KEY, a corrupt or truncated value); its `secrets` are then empty.
 */
export type LoadedSubscription = StoredSubscription & { readonly secretsError?: string | null };

/** The secrets of a subscription whose sealed secrets did not open. */
export const NO_SECRETS: SubscriptionSecrets = { signing: null, auth: null };

/** A subscription with everything the hot path needs compiled once. */
export interface IndexedSubscription {
  readonly subscription: Subscription;
  readonly secrets: SubscriptionSecrets;
  /** Its type globs, within the types its creating key was allowed. */
  readonly matchesType: (type: string) => boolean;
  /** Its filter over the structured CloudEvent, or null when it has none. */
  readonly filter: EventFilter | null;
  /**
   * Live delivery starts with records stored at or after this time (ms): its creation for
   * `from: latest`, so it never gets what was published before it existed.
   */
  readonly sinceMs: number;
  /** What came before its live start, delivered as a backfill replay; null when nothing did. */
  readonly backfill: BackfillRange | null;
  readonly retryDelays: RetryDelays;
  /**
   * Why a webhook cannot sign or authenticate its requests (its sealed secrets do not open, or
   * hold a signing secret that is not `whsec_<base64>`), or null. Such a webhook is sent nothing
   * and its parked deliveries stay parked until the secrets are fixed.
   */
  readonly secretsProblem: string | null;
  /**
   * Why it can receive nothing (a stored filter or schedule that no longer compiles, a
   * webhook's `secretsProblem`), or null.
   */
  readonly problem: string | null;
}

/** Compiles a stored subscription; a part that does not compile leaves it matching nothing. */
export function compileSubscription(stored: LoadedSubscription): IndexedSubscription {
  const { subscription } = stored;
  // The stand-in the store's update hands back for secrets that do not open (a disable saved
  // meanwhile) reads as those secrets' problem, not as an error here.
  const unreadable = secretsUnreadable(stored.secrets);
  const secretsError = stored.secretsError ?? unreadable?.reason ?? null;
  const secrets = unreadable ? NO_SECRETS : usableSecrets(stored.secrets);
  const problems: string[] = [];
  // Streams sign nothing: secrets that do not open keep only webhooks from receiving.
  const secretsProblem =
    subscription.kind === 'webhook' ? (secretsError ?? signingProblem(secrets)) : null;
  if (secretsProblem !== null) problems.push(`secrets: ${secretsProblem}`);
  const typeMatchers = compileAll(subscription.types, problems);
  const allowedMatchers =
    subscription.allowedTypes === null ? null : compileAll(subscription.allowedTypes, problems);
  let filter: EventFilter | null = null;
  if (subscription.filter !== null) {
    const compiled = compileEventFilter(subscription.filter);
    if (compiled.ok) filter = compiled.matches;
    else
      problems.push(
        `filter: ${compiled.errors.map((e) => `${e.pointer} ${e.message}`).join('; ')}`,
      );
  }
  let retryDelays: RetryDelays = DEFAULT_RETRY_DELAYS_MS;
  try {
    retryDelays = parseRetrySchedule(subscription.retry.schedule);
  } catch (error) {
    problems.push(`retry schedule: ${(error as Error).message}`);
  }
  const problem = problems.length > 0 ? problems.join('; ') : null;
  return {
    subscription,
    secrets,
    matchesType: (type) =>
      problem === null &&
      typeMatchers.some((matches) => matches(type)) &&
      (allowedMatchers === null || allowedMatchers.some((matches) => matches(type))),
    filter,
    sinceMs: startOf(subscription),
    backfill: backfillRange(subscription),
    retryDelays,
    secretsProblem,
    problem,
  };
}

/** Why a webhook's opened secrets cannot sign its requests, or null when they can. */
function signingProblem(secrets: SubscriptionSecrets | null | undefined): string | null {
  const signing = secrets?.signing;
  if (!signing || typeof signing.current !== 'string') return 'no signing secret';
  try {
    decodeSecret(signing.current);
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/**
 * The secrets without a previous signing secret that cannot sign (not `whsec_<base64>`): a
 * rotation away from a damaged secret keeps it through its grace, and the new one alone must
 * be enough to deliver meanwhile.
 */
function usableSecrets(secrets: SubscriptionSecrets): SubscriptionSecrets {
  const previous = secrets.signing?.previous;
  if (!previous) return secrets;
  try {
    decodeSecret(previous.secret);
    return secrets;
  } catch {
    return { ...secrets, signing: { ...secrets.signing, previous: null } };
  }
}

function compileAll(
  patterns: readonly string[],
  problems: string[],
): ((type: string) => boolean)[] {
  return patterns.flatMap((pattern) => {
    try {
      return [compileTypePattern(pattern)];
    } catch (error) {
      problems.push((error as Error).message);
      return [];
    }
  });
}

/**
 * The first record time live delivery takes. A webhook that starts at `earliest` or a past
 * time starts live at its creation: what came before reaches it as the backfill replay
 * subscription-api asks for, so nothing is sent twice.
 */
function startOf(subscription: Subscription): number {
  const created = Date.parse(subscription.createdAt);
  const from =
    subscription.from === 'latest'
      ? created
      : subscription.from === 'earliest'
        ? 0
        : Date.parse(subscription.from);
  const start = subscription.kind === 'webhook' ? Math.max(from, created) : from;
  return Number.isNaN(start) ? 0 : start;
}
