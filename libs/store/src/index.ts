export { storeConfig, type StoreConfig } from './store.config';
export { RedisConnection } from './redis.connection';
export { storeKeys, type StoreKeys } from './store.keys';
export { StoreModule, STORE_KEYS } from './store.module';
export { StoreUnavailableError, ApiKeyNotFoundError } from './store.errors';
export {
  ApiKeyRepository,
  parseApiKeyToken,
  SCOPES,
  type Scope,
  type ScopeGrant,
  type ApiKeyRecord,
} from './api-key.repository';
export { IdempotencyStore, type Reservation } from './idempotency.store';
