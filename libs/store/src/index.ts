export { storeConfig, type StoreConfig } from './store.config';
export { RedisConnection } from './redis.connection';
export {
  RedisDeadline,
  RedisUnavailableError,
  DEFAULT_REDIS_PROBE_INTERVAL_MS,
  REDIS_UNAVAILABLE_REASONS,
  type RedisCallOptions,
  type RedisDeadlineOptions,
  type RedisUnavailableReason,
} from './redis-deadline';
export { storeKeys, type StoreKeys } from './store.keys';
export { StoreModule, STORE_KEYS } from './store.module';
export { ApiKeyNotFoundError, LeaseLostError } from './store.errors';
export {
  ApiKeyRepository,
  parseApiKeyToken,
  SCOPES,
  type Scope,
  type ScopeGrant,
  type ApiKeyRecord,
} from './api-key.repository';
export {
  ApiKeyNotices,
  encodeApiKeyNotice,
  parseApiKeyNotice,
  type ApiKeyNotice,
  type ApiKeyNoticeKind,
  type ApiKeyNoticeListener,
  type ApiKeyNoticeListenerOptions,
} from './api-key-notices';
export { IdempotencyStore, type Reservation } from './idempotency.store';
export { secretKeyConfig, type SecretKeyConfig } from './secret-key.config';
export { SecretCipher, loadSecretCipher } from './secret-cipher';
export { newSortableId, isSortableId } from './sortable-id';
export { activeSecrets, rotateSigningSecrets, type SigningSecrets } from './signing-secrets';
export {
  SubscriptionNotFoundError,
  SubscriptionVersionConflictError,
  SecretKeyUnavailableError,
  SealedSecretError,
  SubscriptionSecretsUnreadableError,
  ReplayNotFoundError,
} from './subscription-store.errors';
export {
  SubscriptionNotices,
  parseNotice,
  NOTICE_LOG_LENGTH,
  type SubscriptionNotice,
  type SubscriptionNoticeKind,
  type NoticeListener,
  type NoticeListenerOptions,
} from './subscription-notices';
export {
  SubscriptionRepository,
  newSubscriptionId,
  secretsUnreadable,
  unreadableReason,
  SUBSCRIPTION_STATUSES,
  SUBSCRIPTION_ID_PREFIX,
  type Subscription,
  type SubscriptionStatus,
  type SubscriptionKind,
  type SubscriptionSecrets,
  type UnreadableSecrets,
  type StoredSubscription,
  type NewSubscription,
  type SubscriptionPage,
  type VerificationMode,
  type VerificationState,
  type EndpointAuth,
  type WebhookBodyFormat,
} from './subscription.repository';
export {
  DeliveryLogRepository,
  ATTEMPT_STATUSES,
  MAX_LOGGED_BODY,
  DEFAULT_DELIVERY_LOG_LENGTH,
  type AttemptStatus,
  type DeliveryAttempt,
  type LoggedAttempt,
} from './delivery-log.repository';
export {
  DeadLetterRepository,
  DEAD_LETTER_ID_PREFIX,
  DEFAULT_DEAD_LETTER_LIMITS,
  REDRIVE_LEASE_MS,
  REDRIVE_ID_PREFIX,
  type DeadLetter,
  type DeadLetterLimits,
  type DeadLettersTrimmed,
  type NewDeadLetter,
  type RedriveRequest,
  type ClaimedRedrive,
  type RedriveClaim,
} from './dead-letter.repository';
export {
  ReplayRepository,
  REPLAY_LEASE_MS,
  DEFAULT_REPLAYS_PER_TENANT,
  FINAL_REPLAY_STATUSES,
  backfillRange,
  isBackfill,
  type BackfillRange,
  REPLAY_ID_PREFIX,
  type ClaimedReplay,
  type Replay,
  type ReplayClaim,
  type ReplayEnd,
  type ReplayPosition,
  type ReplayProgress,
  type ReplayStatus,
} from './replay.repository';
export {
  SubscriptionStatsRepository,
  type SubscriptionStats,
} from './subscription-stats.repository';
export { StreamCursorRepository, type AcknowledgedCursor } from './stream-cursor.repository';
export { SubscriptionStoreModule } from './subscription-store.module';
export {
  RetryParkingStore,
  type ParkRequest,
  type ParkOutcome,
  type ParkingOwner,
  type ClaimedTask,
  type ParkedOutcome,
  type PartitionTakeover,
} from './retry-parking.store';
export { PartitionHandoverStore, type StoredHandover } from './partition-handover.store';
export { PendingDisableStore, type PendingDisable } from './pending-disables.store';
