import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { encodeApiKeyNotice } from './api-key-notices';
import type { RedisConnection } from './redis.connection';
import type { StoreKeys } from './store.keys';

/** The scopes a key can hold (SPEC §5). */
export const SCOPES = [
  'events:publish',
  'subscriptions:read',
  'subscriptions:write',
  'streams:read',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/** One scope, optionally limited to event types matching any of `types` (globs); null = all types. */
export interface ScopeGrant {
  scope: Scope;
  types: string[] | null;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  tenant: string;
  scopes: ScopeGrant[];
  createdAt: string;
}

const TOKEN_PREFIX = 'hk_';
const ID_BYTES = 8;

function hashSecret(secret: string): Buffer {
  // Keys carry 256 random bits, so a fast hash is enough; a slow KDF would only cost latency.
  return createHash('sha256').update(secret).digest();
}

/** Splits `hk_<16 hex id>_<secret>`; anything else is not one of our keys. */
export function parseApiKeyToken(token: string): { id: string; secret: string } | null {
  const match = /^hk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(token);
  return match ? { id: match[1]!, secret: match[2]! } : null;
}

/**
 * API keys in Redis: the record and a SHA-256 of the secret, never the key itself. The full key
 * is returned once, by `create`.
 */
export class ApiKeyRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
  ) {}

  async create(input: {
    name: string;
    tenant: string;
    scopes: ScopeGrant[];
  }): Promise<{ record: ApiKeyRecord; key: string }> {
    const id = randomBytes(ID_BYTES).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const record: ApiKeyRecord = {
      id,
      name: input.name,
      tenant: input.tenant,
      scopes: input.scopes,
      createdAt: new Date().toISOString(),
    };
    const score = Date.now();
    await this.redis.client
      .multi()
      .hset(this.keys.apiKey(id), {
        record: JSON.stringify(record),
        hash: hashSecret(secret).toString('base64'),
      })
      .zadd(this.keys.apiKeyIndex(), score, id)
      .zadd(this.keys.tenantApiKeys(input.tenant), score, id)
      .exec();
    return { record, key: `${TOKEN_PREFIX}${id}_${secret}` };
  }

  async get(id: string): Promise<ApiKeyRecord | null> {
    const raw = await this.redis.client.hget(this.keys.apiKey(id), 'record');
    return raw === null ? null : (JSON.parse(raw) as ApiKeyRecord);
  }

  /** Every key, or one tenant's, oldest first. */
  async list(tenant?: string): Promise<ApiKeyRecord[]> {
    const index = tenant === undefined ? this.keys.apiKeyIndex() : this.keys.tenantApiKeys(tenant);
    const ids = await this.redis.client.zrange(index, 0, -1);
    if (ids.length === 0) return [];
    const pipeline = this.redis.client.pipeline();
    for (const id of ids) pipeline.hget(this.keys.apiKey(id), 'record');
    const results = (await pipeline.exec()) ?? [];
    return results.flatMap(([, raw]) =>
      typeof raw === 'string' ? [JSON.parse(raw) as ApiKeyRecord] : [],
    );
  }

  /**
   * Deletes a key; with `tenant`, only if it belongs to that tenant. False when there was none.
   * Publishes its `api_key.deleted` notice (`ApiKeyNotices`) in the same transaction, so the
   * processes listening (fanout's streams) drop what they hold for it at once.
   */
  async delete(id: string, tenant?: string): Promise<boolean> {
    const record = await this.get(id);
    if (!record || (tenant !== undefined && record.tenant !== tenant)) return false;
    const notice = encodeApiKeyNotice({
      kind: 'api_key.deleted',
      keyId: id,
      tenant: record.tenant,
    });
    await this.redis.client
      .multi()
      .del(this.keys.apiKey(id))
      .zrem(this.keys.apiKeyIndex(), id)
      .zrem(this.keys.tenantApiKeys(record.tenant), id)
      .publish(this.keys.apiKeyNoticeChannel(), notice)
      .exec();
    return true;
  }

  /** The record of a presented key when it exists and its secret matches; null otherwise. */
  async verify(token: string): Promise<ApiKeyRecord | null> {
    const parsed = parseApiKeyToken(token);
    if (!parsed) return null;
    const stored = await this.redis.client.hmget(this.keys.apiKey(parsed.id), 'record', 'hash');
    const [raw, hash] = stored;
    if (!raw || !hash) return null;
    const expected = Buffer.from(hash, 'base64');
    const actual = hashSecret(parsed.secret);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    return JSON.parse(raw) as ApiKeyRecord;
  }
}
