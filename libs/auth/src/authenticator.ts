import { createHash, timingSafeEqual } from 'node:crypto';
import { parseApiKeyToken, type ApiKeyRepository } from '@herald/store';
import type { AuthConfig } from './auth.config';
import { Principal } from './principal';

const ADMIN_GRANTS = [{ scope: 'admin' as const, types: null }];

/**
 * The tenant of the bootstrap HERALD_ADMIN_KEY: its subscriptions and event ids live under it.
 * Reserved: a stored key of that tenant would share them, so none may be created for it.
 */
export const BOOTSTRAP_ADMIN_TENANT = 'admin';

/**
 * Turns a presented key into a Principal. Answers are cached briefly (default 5 s) so a busy
 * ingest path does not ask Redis on every request; a deleted key stops working within that time,
 * or at once where its deletion notice is heard (`ApiKeyDeletionListener`, `forget`).
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();
  private readonly adminDigest: Buffer | null;

  constructor(
    private readonly apiKeys: ApiKeyRepository,
    config: AuthConfig,
    private readonly cacheMs = 5000,
    private readonly cacheEntries = 10_000,
  ) {
    this.adminDigest = config.adminKey === null ? null : digest(config.adminKey);
  }

  async authenticate(token: string): Promise<Principal | null> {
    if (this.adminDigest && timingSafeEqual(digest(token), this.adminDigest)) {
      return new Principal('admin', BOOTSTRAP_ADMIN_TENANT, ADMIN_GRANTS);
    }
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached && cached.until > now) return cached.principal;
    const record = await this.apiKeys.verify(token);
    const principal = record ? new Principal(record.id, record.tenant, record.scopes) : null;
    if (this.cache.size >= this.cacheEntries) this.cache.clear();
    this.cache.set(token, { principal, until: now + this.cacheMs });
    return principal;
  }

  /**
   * True when authenticate() answers `token` without asking Redis: the admin key, a key answered
   * in the last `cacheMs`, or a token that is no API key at all (see RedisCallOptions.needsRedis).
   */
  answersWithoutRedis(token: string): boolean {
    if (this.adminDigest && timingSafeEqual(digest(token), this.adminDigest)) return true;
    const cached = this.cache.get(token);
    return (cached !== undefined && cached.until > Date.now()) || parseApiKeyToken(token) === null;
  }

  /**
   * Drops cached answers, so a key deleted here stops working at once in this process: every
   * one, or with `keyId` only those of that stored key (fanout hears of deletions made elsewhere).
   */
  forget(keyId?: string): void {
    if (keyId === undefined) {
      this.cache.clear();
      return;
    }
    for (const token of this.cache.keys())
      if (parseApiKeyToken(token)?.id === keyId) this.cache.delete(token);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
