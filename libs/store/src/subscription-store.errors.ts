import { HeraldError } from '@herald/errors';

/** No subscription with this id (or not one the caller may see: same answer on purpose). */
export class SubscriptionNotFoundError extends HeraldError {
  constructor(id: string) {
    super('store.subscription.not_found', `Subscription ${id} does not exist`);
  }
}

/** A write based on an older version of the subscription than the stored one. */
export class SubscriptionVersionConflictError extends HeraldError {
  constructor(id: string, expected: number, actual: number | null) {
    super(
      'store.subscription_version.conflict',
      actual === null
        ? `Subscription ${id} was deleted meanwhile`
        : `Subscription ${id} is at version ${actual}, not ${expected}; read it again and retry`,
      { details: { currentVersion: actual } },
    );
  }
}

/** The secret key is missing, malformed or unreadable; the process cannot seal or open secrets. */
export class SecretKeyUnavailableError extends HeraldError {
  constructor(reason: string, cause?: unknown) {
    super(
      'store.secret_key.unavailable',
      `The secret key is unavailable: ${reason}. Set HERALD_SECRET_KEY to 32 random bytes in base64 (openssl rand -base64 32).`,
      { cause },
    );
  }
}

/** A sealed secret that does not open: another key, a tampered value, or the wrong record. */
export class SealedSecretError extends HeraldError {
  constructor(
    reason: string,
    cause?: unknown,
    /**
     * Sealed under another key than this process's: the value may be intact and open under the
     * right key, so the key is what to fix, not the value.
     */
    readonly otherKey = false,
  ) {
    super('store.sealed_secret', reason, { cause });
  }
}

/**
 * A change read the secrets of a subscription whose sealed secrets do not open (see
 * `SubscriptionRepository.update`): changes that leave the secrets alone still work.
 */
export class SubscriptionSecretsUnreadableError extends HeraldError {
  constructor(id: string, reason: string) {
    super(
      'store.subscription_secrets_unreadable.conflict',
      `The stored secrets of subscription ${id} do not open (${reason}), so this change, which needs them, cannot be made; changes that leave the secrets alone still can`,
    );
  }
}

/** No replay with this id for this subscription. */
export class ReplayNotFoundError extends HeraldError {
  constructor(id: string) {
    super('store.replay.not_found', `Replay ${id} does not exist`);
  }
}
