import type { BeforeApplicationShutdown, OnApplicationBootstrap, Provider } from '@nestjs/common';
import { LOGGER, type Logger } from '@herald/observability';
import {
  ApiKeyNotices,
  RedisConnection,
  STORE_KEYS,
  type ApiKeyNoticeListener,
  type StoreKeys,
} from '@herald/store';
import { Authenticator } from './authenticator';

/**
 * Drops this process's cached auth answers for an API key as soon as its deletion notice is heard
 * (`ApiKeyRepository.delete` publishes one, whichever subscription-api instance deleted it), so a
 * deleted key is refused here at once rather than when its cache entry expires (5 s). One
 * listening Redis connection a process, from bootstrap to shutdown. ingest-bridge and
 * subscription-api provide it (`apiKeyDeletionListener`); fanout's streams listen themselves, as
 * they also end the key's streams.
 */
export class ApiKeyDeletionListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private listener: ApiKeyNoticeListener | undefined;

  constructor(
    private readonly notices: ApiKeyNotices,
    private readonly authenticator: Authenticator,
    private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.listener = this.notices.listen({
      onNotice: ({ keyId, tenant }) => {
        this.authenticator.forget(keyId);
        this.logger.debug(
          { keyId, tenant },
          'API key deleted (its notice); forgot its cached auth',
        );
      },
      // Deletions published while the connection was down were not heard: the cache may hold
      // any of them, so it is dropped whole (each key in use is read from Redis once more).
      onReconnect: () => {
        this.authenticator.forget();
        this.logger.info('API key deletion notices heard again; dropped every cached auth answer');
      },
      onError: (error) =>
        this.logger.warn({ err: error }, 'API key deletion notices: listener failed'),
    });
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.listener?.close() ?? Promise.resolve();
  }
}

/** The listener as a provider, over the app's Redis connection, store keys and authenticator. */
export const apiKeyDeletionListener: Provider = {
  provide: ApiKeyDeletionListener,
  inject: [RedisConnection, STORE_KEYS, Authenticator, LOGGER],
  useFactory: (
    redis: RedisConnection,
    keys: StoreKeys,
    authenticator: Authenticator,
    logger: Logger,
  ) =>
    new ApiKeyDeletionListener(
      new ApiKeyNotices(redis, keys),
      authenticator,
      logger.child({ component: 'auth' }),
    ),
};
