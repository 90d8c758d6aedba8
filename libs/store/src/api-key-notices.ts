import type { Redis } from 'ioredis';
import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/** What happened to a key. Keys cannot be changed, only created and deleted. */
export type ApiKeyNoticeKind = 'api_key.deleted';

/**
 * One API key change. `ApiKeyRepository.delete` publishes `api_key.deleted` in the same
 * transaction as the delete, so a notice is never sent for a key that still exists, nor a delete
 * made without one.
 */
export interface ApiKeyNotice {
  readonly kind: ApiKeyNoticeKind;
  readonly keyId: string;
  readonly tenant: string;
}

export function encodeApiKeyNotice(notice: ApiKeyNotice): string {
  return JSON.stringify({ kind: notice.kind, keyId: notice.keyId, tenant: notice.tenant });
}

/** Parses one published notice; null for anything malformed or of a kind this build does not know. */
export function parseApiKeyNotice(text: string): ApiKeyNotice | null {
  try {
    const value = JSON.parse(text) as Partial<ApiKeyNotice>;
    if (
      value.kind !== 'api_key.deleted' ||
      typeof value.keyId !== 'string' ||
      typeof value.tenant !== 'string'
    )
      return null;
    return { kind: value.kind, keyId: value.keyId, tenant: value.tenant };
  } catch {
    return null;
  }
}

export interface ApiKeyNoticeListenerOptions {
  /** Called once per notice heard, in the order published. */
  readonly onNotice: (notice: ApiKeyNotice) => void;
  /**
   * Called once the listener hears notices again after its connection dropped: pub/sub keeps
   * nothing, so what was published meanwhile is lost and the caller checks the keys it holds.
   */
  readonly onReconnect?: () => void;
  /** A callback threw, or subscribing again after a reconnect failed. */
  readonly onError?: (error: unknown) => void;
  /**
   * The listening connection's name (CLIENT LIST); default `<connection name>:api-key-notices:<prefix>`
   * (deployments or tests sharing a Redis tell theirs apart).
   */
  readonly connectionName?: string;
}

export interface ApiKeyNoticeListener {
  /** Resolves once the first subscription is in place: a notice published after it is heard. */
  readonly subscribed: Promise<void>;
  close(): Promise<void>;
}

/**
 * API key change notices on a pub/sub channel (`apiKeyNoticeChannel`), for processes that hold
 * something on a key's behalf (fanout's open streams, cached auth answers) to drop it at once.
 * Unlike subscription notices they are not numbered or logged: a notice names a key whose
 * absence anyone can read back, so a listener that may have missed some (its connection dropped)
 * checks the keys it holds instead (`onReconnect`), and its holder keeps a slower periodic check
 * for the rest (a connection that hangs without dropping).
 */
export class ApiKeyNotices {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  /** Publishes a notice outside a delete (the repository's delete publishes its own). */
  async publish(notice: ApiKeyNotice): Promise<void> {
    await this.redis.client.publish(this.keys.apiKeyNoticeChannel(), encodeApiKeyNotice(notice));
  }

  /**
   * Listens on a connection of its own (pub/sub mode takes a connection over). Returns at once;
   * while Redis is away the subscription waits for it, and ioredis subscribes again after every
   * reconnect.
   */
  listen(options: ApiKeyNoticeListenerOptions): ApiKeyNoticeListener {
    const channel = this.keys.apiKeyNoticeChannel();
    const subscriber: Redis = this.redis.client.duplicate({
      enableAutoPipelining: false,
      connectionName:
        options.connectionName ??
        `${this.redis.client.options.connectionName ?? 'herald'}:api-key-notices:${this.keys.prefix}`,
    });
    subscriber.on('error', () => undefined); // surfaced through the main connection's readiness
    let closed = false;
    let connectedOnce = false;
    const guarded = (call: () => void) => {
      try {
        call();
      } catch (error) {
        options.onError?.(error);
      }
    };

    subscriber.on('message', (_channel: string, message: string) => {
      const notice = parseApiKeyNotice(message);
      if (notice && !closed) guarded(() => options.onNotice(notice));
    });
    subscriber.on('ready', () => {
      if (closed) return;
      if (!connectedOnce) {
        connectedOnce = true;
        return;
      }
      // 'ready' comes before ioredis sends its own resubscribe; this SUBSCRIBE goes out on the
      // same connection, so once it is answered every later notice is heard and the caller's
      // check sees every delete before it.
      subscriber.subscribe(channel).then(
        () => {
          if (!closed && options.onReconnect) guarded(options.onReconnect);
        },
        (error: unknown) => {
          if (!closed) options.onError?.(error);
        },
      );
    });
    const subscribed = subscriber.subscribe(channel).then(() => undefined);
    // A rejection here (closed before Redis came) is the caller's only if it awaits it.
    subscribed.catch(() => undefined);

    return {
      subscribed,
      close() {
        closed = true;
        subscriber.disconnect();
        return Promise.resolve();
      },
    };
  }
}
