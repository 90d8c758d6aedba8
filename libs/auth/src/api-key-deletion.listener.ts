import type { BeforeApplicationShutdown, OnApplicationBootstrap, Provider } from '@nestjs/common';
import { LOGGER, type Logger } from '@herald/observability';
import {
  ApiKeyNotices,
  RedisConnection,
  STORE_KEYS,
  type ApiKeyNotice,
  type ApiKeyNoticeListener,
  type StoreKeys,
} from '@herald/store';
import { Authenticator } from './authenticator';

/** A deleted API key, as its deletion notice names it. */
export type ApiKeyDeletion = Pick<ApiKeyNotice, 'keyId' | 'tenant'>;

/** Told of each deletion notice heard, after the key's cached auth answers were forgotten. */
export type ApiKeyDeletedHandler = (deletion: ApiKeyDeletion) => void;

/**
 * Told when notices may have been lost (the listening connection dropped and is back): whatever
 * the handler holds for a key it checks again, since a deletion meanwhile was not heard.
 */
export type ApiKeyResyncHandler = () => void;

/**
 * The process's one listener for API key deletion notices (`ApiKeyRepository.delete` publishes
 * one, whichever subscription-api instance deleted the key), on one Redis connection of its own
 * from bootstrap to shutdown. On a notice it drops this process's cached auth answers for the key,
 * so a deleted key is refused here at once rather than when its cache entry expires (5 s), then
 * tells every `onDeleted` handler; after its connection comes back it drops every cached answer
 * and tells every `onResync` handler (notices published meanwhile were lost). ingest-bridge and
 * subscription-api provide it (`apiKeyDeletionListener`) for their auth caches; fanout's streams
 * module provides it too and ends a deleted key's streams from its handlers.
 *
 * A handler that throws is logged and skipped: the cache is forgotten and the other handlers
 * are told all the same.
 */
export class ApiKeyDeletionListener implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private listener: ApiKeyNoticeListener | undefined;
  private readonly deletedHandlers = new Set<ApiKeyDeletedHandler>();
  private readonly resyncHandlers = new Set<ApiKeyResyncHandler>();

  constructor(
    private readonly notices: ApiKeyNotices,
    private readonly authenticator: Authenticator,
    private readonly logger: Logger,
  ) {}

  /** Calls `handler` for each deletion notice heard from now on; returns its removal. */
  onDeleted(handler: ApiKeyDeletedHandler): () => void {
    this.deletedHandlers.add(handler);
    return () => this.deletedHandlers.delete(handler);
  }

  /** Calls `handler` each time notices may have been lost; returns its removal. */
  onResync(handler: ApiKeyResyncHandler): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }

  /** Resolves once notices are heard (the first subscription is in place); for tests. */
  get subscribed(): Promise<void> {
    return this.listener?.subscribed ?? Promise.reject(new Error('not listening yet'));
  }

  onApplicationBootstrap(): void {
    this.listener = this.notices.listen({
      onNotice: ({ keyId, tenant }) => this.deleted({ keyId, tenant }),
      onReconnect: () => this.resync(),
      onError: (error) => this.failed(error),
    });
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.listener?.close() ?? Promise.resolve();
  }

  private deleted(deletion: ApiKeyDeletion): void {
    this.authenticator.forget(deletion.keyId);
    this.logger.debug(deletion, 'API key deleted (its notice); forgot its cached auth');
    for (const handler of [...this.deletedHandlers]) this.guarded(() => handler(deletion));
  }

  // Deletions published while the connection was down were not heard: the cache may hold any of
  // them, so it is dropped whole (each key in use is read from Redis once more), and every
  // handler checks what it holds.
  private resync(): void {
    this.authenticator.forget();
    this.logger.info('API key deletion notices heard again; dropped every cached auth answer');
    for (const handler of [...this.resyncHandlers]) this.guarded(handler);
  }

  /** One handler throwing leaves the others (and the cache forgetting) to run. */
  private guarded(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.logger.warn({ err: error }, 'API key deletion notices: listener failed');
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
