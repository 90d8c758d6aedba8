import { Module, type DynamicModule, type Provider, type Type } from '@nestjs/common';
import { DeadLetterRepository } from './dead-letter.repository';
import { DeliveryLogRepository } from './delivery-log.repository';
import { RedisConnection } from './redis.connection';
import { ReplayRepository } from './replay.repository';
import { SecretCipher, loadSecretCipher } from './secret-cipher';
import type { SecretKeyConfig } from './secret-key.config';
import { STORE_KEYS } from './store.module';
import type { StoreKeys } from './store.keys';
import { StreamCursorRepository } from './stream-cursor.repository';
import { SubscriptionNotices } from './subscription-notices';
import { SubscriptionStatsRepository } from './subscription-stats.repository';
import { SubscriptionRepository } from './subscription.repository';

type RedisBacked = Type<unknown> & {
  new (redis: RedisConnection, keys: StoreKeys): unknown;
};

function redisBacked(type: RedisBacked): Provider {
  return {
    provide: type,
    inject: [RedisConnection, STORE_KEYS],
    useFactory: (redis: RedisConnection, keys: StoreKeys) => new type(redis, keys),
  };
}

/**
 * The subscription side of the store for apps that manage or deliver subscriptions: the
 * subscription repository (with the secret cipher), notices, delivery log, dead letters,
 * replays, stats and stream cursors. Needs StoreModule (for the connection and key builder).
 */
@Module({})
export class SubscriptionStoreModule {
  static forRoot(secretKey: SecretKeyConfig): DynamicModule {
    const providers: Provider[] = [
      { provide: SecretCipher, useFactory: async () => (await loadSecretCipher(secretKey)).cipher },
      {
        provide: SubscriptionRepository,
        inject: [RedisConnection, STORE_KEYS, SecretCipher],
        useFactory: (redis: RedisConnection, keys: StoreKeys, cipher: SecretCipher) =>
          new SubscriptionRepository(redis, keys, cipher),
      },
      redisBacked(SubscriptionNotices),
      redisBacked(DeliveryLogRepository),
      redisBacked(DeadLetterRepository),
      redisBacked(ReplayRepository),
      redisBacked(SubscriptionStatsRepository),
      redisBacked(StreamCursorRepository),
    ];
    return {
      module: SubscriptionStoreModule,
      global: true,
      providers,
      exports: providers.map((provider) => (provider as { provide: unknown }).provide as Type),
    };
  }
}
