import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import type { StoreConfig } from './store.config';

/**
 * TLS for a rediss: URL, in any letter case (ioredis itself turns TLS on only for a URL that
 * begins with a lower-case `rediss://`, and would send an upper-case one's password in the
 * clear), naming the host for SNI as the launcher's probe does: a proxy that routes by server
 * name needs it, and Node sends none unless told. Not for an IP address, which SNI does not
 * carry. ioredis takes the URL's own options (`?tls=...`) over these.
 */
function tlsOptionsFor(url: string): Pick<RedisOptions, 'tls'> {
  const { protocol, hostname } = new URL(url);
  if (protocol !== 'rediss:') return {};
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return { tls: isIP(host) === 0 ? { servername: host } : {} };
}

/**
 * The process's Redis client. Commands issued while Redis is away are queued and retried by
 * ioredis (reconnecting with capped backoff); readiness reports the outage meanwhile.
 */
export class RedisConnection {
  readonly client: Redis;
  private closing = false;

  constructor(config: StoreConfig, name: string) {
    this.client = new Redis(config.url, {
      ...tlsOptionsFor(config.url),
      connectionName: name,
      lazyConnect: true,
      maxRetriesPerRequest: null,
      // After close(), a close event still in flight must not schedule another reconnect.
      retryStrategy: (attempt) => (this.closing ? null : Math.min(attempt * 100, 2000)),
      enableAutoPipelining: true,
    });
    // Connection errors surface through readiness and command failures; without a listener
    // ioredis would print each one as an unhandled 'error' event.
    this.client.on('error', () => undefined);
  }

  async connect(): Promise<void> {
    if (this.client.status === 'wait') await this.client.connect();
  }

  /** Resolves when Redis answers PING now; rejects at once when the connection is down. */
  async ping(): Promise<void> {
    if (this.client.status !== 'ready')
      throw new Error(`redis connection is ${this.client.status}`);
    await this.client.ping();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.client.status === 'end') return;
    if (this.client.status !== 'ready') {
      // Not connected (or reconnecting): nothing to flush, and quit would wait for a reconnect.
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      // quit fails when the connection drops meanwhile; disconnect() still releases the socket.
      this.client.disconnect();
    }
  }
}
