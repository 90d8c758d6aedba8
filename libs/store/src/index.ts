export { storeConfig, type StoreConfig } from './store.config';
export { RedisConnection } from './redis.connection';
export { storeKeys, type StoreKeys } from './store.keys';
export { StoreModule } from './store.module';
