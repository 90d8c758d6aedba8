import type { RedisConnection } from './redis.connection';
import type { SecretCipher } from './secret-cipher';
import type { SigningSecrets } from './signing-secrets';
import { newSortableId } from './sortable-id';
import type { StoreKeys } from './store.keys';
import { NOTICE_LOG_LENGTH, NOTIFY_LUA, type SubscriptionNoticeKind } from './subscription-notices';
import {
  SealedSecretError,
  SubscriptionNotFoundError,
  SubscriptionSecretsUnreadableError,
  SubscriptionVersionConflictError,
} from './subscription-store.errors';

export const SUBSCRIPTION_STATUSES = ['pending', 'active', 'paused', 'disabled'] as const;
/**
 * `pending`: waiting for its ownership check, gets nothing. `active`: receives events.
 * `paused`: by its owner; events are not delivered (and not kept for later). `disabled`: by
 * Herald (410, failing too long); resume to receive again.
 */
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];
export type SubscriptionKind = 'webhook' | 'stream';
export type VerificationMode = 'none' | 'websub' | 'cloudevents';
export type WebhookBodyFormat = 'cloudevents' | 'standard' | 'tmf688';

/** The ownership check of a webhook endpoint and how it went. */
export interface VerificationState {
  readonly mode: VerificationMode;
  /** `not_required` for mode none and streams. */
  readonly state: 'not_required' | 'pending' | 'passed' | 'failed';
  readonly checkedAt: string | null;
  /** Why the last check failed, in words a partner can act on. */
  readonly failure: string | null;
}

/** Credentials Herald presents to the endpoint; stored sealed, never returned by the API. */
export type EndpointAuth =
  | { readonly type: 'bearer'; readonly token: string }
  | { readonly type: 'basic'; readonly username: string; readonly password: string };

/** A subscription without its secrets: what the API shows and what listings return. */
export interface Subscription {
  readonly id: string;
  readonly tenant: string;
  readonly kind: SubscriptionKind;
  /** The webhook URL (normalised); null for streams. */
  readonly url: string | null;
  /** Type globs (`order.*`); an event matches when any glob does. */
  readonly types: readonly string[];
  /**
   * The `subscriptions:write` type patterns of the key that created it (null: every type). The
   * engine re-checks each event against them, so a type added to the contract later that the
   * globs match but the key could not subscribe to is never delivered.
   */
  readonly allowedTypes: readonly string[] | null;
  /** MongoDB-style query over the structured CloudEvent (`data.total`, `type`, …), or null. */
  readonly filter: Readonly<Record<string, unknown>> | null;
  readonly format: WebhookBodyFormat;
  readonly ordering: 'key' | 'none';
  /** Where delivery starts: `latest`, `earliest` or an RFC 3339 time. */
  readonly from: string;
  readonly maxInFlight: number;
  /** Requests per second to the endpoint, or null for no limit. */
  readonly maxPerSecond: number | null;
  readonly retry: { readonly schedule: readonly string[] };
  readonly headers: Readonly<Record<string, string>>;
  /** Which auth is configured, without the credentials. */
  readonly authType: EndpointAuth['type'] | null;
  readonly verification: VerificationState;
  readonly description: string | null;
  readonly metadata: Readonly<Record<string, string>>;
  readonly status: SubscriptionStatus;
  /** Why it is disabled or pending, when it is. */
  readonly statusReason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Grows by one with every change; writes can require the version they were based on. */
  readonly version: number;
  /** The API key that created it (`admin` for the bootstrap key). */
  readonly createdByKey: string;
}

/** The sealed part of a subscription. */
export interface SubscriptionSecrets {
  /** Webhook signing secrets; null for streams. */
  readonly signing: SigningSecrets | null;
  readonly auth: EndpointAuth | null;
}

export interface StoredSubscription {
  readonly subscription: Subscription;
  readonly secrets: SubscriptionSecrets;
}

/** Why the secrets `update` handed its change did not open (see `secretsUnreadable`). */
export interface UnreadableSecrets {
  /** In words: the cipher's (or the JSON parser's) reason. */
  readonly reason: string;
  /**
   * Sealed under another key than this process's HERALD_SECRET_KEY: the value may be intact and
   * open under the right key, so it must not be replaced; the key is what to fix.
   */
  readonly otherKey: boolean;
}

const unreadableSecretsFacts = new WeakMap<SubscriptionSecrets, UnreadableSecrets>();

/**
 * What `update` hands its change in place of secrets that do not open. Reading either field
 * throws SubscriptionSecretsUnreadableError; the getters are own and enumerable, so spreading it
 * (`{ ...secrets, auth }`) or sealing it throws too, and no change can lose what it cannot see.
 */
function unreadableSecrets(id: string, facts: UnreadableSecrets): SubscriptionSecrets {
  const refuse = (): never => {
    throw new SubscriptionSecretsUnreadableError(id, facts.reason);
  };
  const secrets = Object.defineProperties({} as SubscriptionSecrets, {
    signing: { get: refuse, enumerable: true },
    auth: { get: refuse, enumerable: true },
  });
  unreadableSecretsFacts.set(secrets, facts);
  return secrets;
}

/**
 * Why a stored value did not decode (a sealed secret that does not open, or JSON that does not
 * parse), in words; null for any other error (Redis failing): reading it again would then help.
 */
export function unreadableReason(error: unknown): string | null {
  if (error instanceof SealedSecretError) return error.message;
  if (error instanceof SyntaxError) return `the sealed secrets are not JSON: ${error.message}`;
  return null;
}

/**
 * Why `secrets` did not open when they are the stand-in `update` hands a change for secrets
 * that do not open; null for secrets that did.
 */
export function secretsUnreadable(secrets: SubscriptionSecrets): UnreadableSecrets | null {
  return unreadableSecretsFacts.get(secrets) ?? null;
}

export type NewSubscription = Omit<Subscription, 'id' | 'version' | 'createdAt' | 'updatedAt'>;

export interface SubscriptionPage {
  readonly items: Subscription[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly nextCursor: string | null;
}

export const SUBSCRIPTION_ID_PREFIX = 'sub_';

// KEYS: record, global index, tenant index, status counts, notice seq, notice log, delivery
// health. ARGV: expected version (0 = must not exist), record, sealed, status, tenant, id, kind
// of notice, notice channel, log length. Becoming active (a resume, a passed ownership check)
// ends any failing period: a subscription disabled for failing too long and then fixed is not
// disabled again by its first failure.
const SAVE_SCRIPT = `${NOTIFY_LUA}
local current = redis.call('HGET', KEYS[1], 'version')
local expected = tonumber(ARGV[1])
if expected == 0 then
  if current then return {-1, tonumber(current)} end
else
  if not current then return {-2, 0} end
  if tonumber(current) ~= expected then return {-3, tonumber(current)} end
end
local old_status = redis.call('HGET', KEYS[1], 'status')
local version = expected + 1
redis.call('HSET', KEYS[1], 'record', ARGV[2], 'sealed', ARGV[3], 'status', ARGV[4],
  'tenant', ARGV[5], 'version', version)
if old_status then redis.call('HINCRBY', KEYS[4], old_status, -1) end
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
if ARGV[4] == 'active' and old_status ~= 'active' then redis.call('DEL', KEYS[7]) end
redis.call('ZADD', KEYS[2], 0, ARGV[6])
redis.call('ZADD', KEYS[3], 0, ARGV[6])
local seq = herald_notify(KEYS[5], KEYS[6], ARGV[8], ARGV[9],
  {kind = ARGV[7], subscriptionId = ARGV[6], tenant = ARGV[5], version = version})
return {version, seq}
`;

// KEYS: record, global index, tenant index, status counts, notice seq, notice log, then every
// key that belongs to the subscription. ARGV: id, tenant, notice channel, log length.
// ARGV[5]: the version the caller expects ('' for any); another gives -1 - the actual version.
const DELETE_SCRIPT = `${NOTIFY_LUA}
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if ARGV[5] ~= '' then
  local version = tonumber(redis.call('HGET', KEYS[1], 'version'))
  if version ~= tonumber(ARGV[5]) then return -1 - version end
end
for i = 7, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], status, -1)
return herald_notify(KEYS[5], KEYS[6], ARGV[3], ARGV[4],
  {kind = 'subscription.deleted', subscriptionId = ARGV[1], tenant = ARGV[2]})
`;

const UPDATE_ATTEMPTS = 5;
const LOAD_CHUNK = 500;

/** A fresh subscription id: sortable by creation time. */
export function newSubscriptionId(): string {
  return newSortableId(SUBSCRIPTION_ID_PREFIX);
}

/**
 * Subscriptions in Redis. One hash per subscription (the public record as JSON, the secrets
 * sealed with AES-256-GCM, status, tenant, version), a global and a per-tenant index ordered by
 * id for cursor paging, and per-status counts. Every write is one Lua script that checks the
 * version, writes, and numbers and publishes a change notice atomically (see
 * SubscriptionNotices), so the delivery engine never misses a change it cannot detect.
 */
export class SubscriptionRepository {
  constructor(
    private readonly redis: RedisConnection,
    private readonly keys: StoreKeys,
    private readonly cipher: SecretCipher,
  ) {}

  async create(
    input: NewSubscription,
    secrets: SubscriptionSecrets,
    id: string = newSubscriptionId(),
  ): Promise<StoredSubscription> {
    const now = new Date().toISOString();
    const subscription: Subscription = { ...input, id, version: 1, createdAt: now, updatedAt: now };
    await this.save({ subscription, secrets }, 0, 'subscription.created');
    return { subscription, secrets };
  }

  async get(id: string): Promise<Subscription | null> {
    const raw = await this.redis.client.hget(this.keys.subscription(id), 'record');
    return raw === null ? null : (JSON.parse(raw) as Subscription);
  }

  async getWithSecrets(id: string): Promise<StoredSubscription | null> {
    const [record, sealed] = await this.redis.client.hmget(
      this.keys.subscription(id),
      'record',
      'sealed',
    );
    if (!record || !sealed) return null;
    return this.decode(record, sealed);
  }

  /** One page of every subscription, or one tenant's, in creation order. */
  async list(
    options: { tenant?: string; limit: number; cursor?: string | null } = { limit: 50 },
  ): Promise<SubscriptionPage> {
    const index =
      options.tenant === undefined
        ? this.keys.subscriptionIndex()
        : this.keys.tenantSubscriptions(options.tenant);
    const start = options.cursor ? `(${options.cursor}` : '-';
    const ids = await this.redis.client.zrange(
      index,
      start,
      '+',
      'BYLEX',
      'LIMIT',
      0,
      options.limit + 1,
    );
    const pageIds = ids.slice(0, options.limit);
    const records = await this.fetch(pageIds, ['record']);
    const items = records.flatMap(([raw]) => (raw ? [JSON.parse(raw) as Subscription] : []));
    return {
      items,
      nextCursor: ids.length > options.limit ? (pageIds[pageIds.length - 1] ?? null) : null,
    };
  }

  /**
   * Applies `change` to the stored subscription and saves it with the next version. When
   * another writer got there first, the change is applied again to the newer state (up to five
   * times); with `expectedVersion`, a newer state fails with SubscriptionVersionConflictError
   * instead. Throws SubscriptionNotFoundError when it does not exist.
   *
   * When the stored secrets do not open (corrupt, truncated, sealed under another key), `change`
   * gets a stand-in for them (`secretsUnreadable` tells it apart; reading it throws
   * SubscriptionSecretsUnreadableError). Returned untouched, the stored sealed value is kept
   * byte for byte, so a change of the public record (a pause, a PATCH of the URL) still works;
   * new secrets returned in its place are sealed and replace it.
   */
  async update(
    id: string,
    change: (current: StoredSubscription) => StoredSubscription,
    options: { expectedVersion?: number | undefined } = {},
  ): Promise<StoredSubscription> {
    for (let attempt = 1; ; attempt += 1) {
      const read = await this.readForUpdate(id);
      if (!read) throw new SubscriptionNotFoundError(id);
      const { current, sealed } = read;
      const { version } = current.subscription;
      if (options.expectedVersion !== undefined && options.expectedVersion !== version) {
        throw new SubscriptionVersionConflictError(id, options.expectedVersion, version);
      }
      const changed = change(current);
      const next: StoredSubscription = {
        subscription: {
          ...changed.subscription,
          id,
          tenant: current.subscription.tenant,
          createdAt: current.subscription.createdAt,
          updatedAt: new Date().toISOString(),
          version: version + 1,
        },
        secrets: changed.secrets,
      };
      const kept =
        secretsUnreadable(current.secrets) !== null && changed.secrets === current.secrets
          ? sealed
          : undefined;
      const outcome = await this.save(next, version, 'subscription.updated', kept);
      if (outcome === 'saved') return next;
      if (outcome === 'missing') throw new SubscriptionNotFoundError(id);
      if (options.expectedVersion !== undefined || attempt >= UPDATE_ATTEMPTS) {
        throw new SubscriptionVersionConflictError(id, version, outcome.actual);
      }
    }
  }

  /**
   * Deletes the subscription and everything kept for it. False when there was none; with
   * `expectedVersion`, another version fails with SubscriptionVersionConflictError.
   */
  async delete(
    id: string,
    options: { expectedVersion?: number | undefined } = {},
  ): Promise<boolean> {
    const tenant = await this.redis.client.hget(this.keys.subscription(id), 'tenant');
    if (tenant === null) return false;
    const replayIds = await this.redis.client.zrange(this.keys.subscriptionReplays(id), 0, -1);
    const seq = await this.redis.client.eval(
      DELETE_SCRIPT,
      6 + 7 + replayIds.length,
      this.keys.subscription(id),
      this.keys.subscriptionIndex(),
      this.keys.tenantSubscriptions(tenant),
      this.keys.subscriptionStatusCounts(),
      this.keys.subscriptionNoticeSeq(),
      this.keys.subscriptionNoticeLog(),
      this.keys.deliveryLog(id),
      this.keys.deadLetters(id),
      this.keys.deadLetterIndex(id),
      this.keys.subscriptionStats(id),
      this.keys.streamCursor(id),
      this.keys.deliveryHealth(id),
      this.keys.subscriptionReplays(id),
      ...replayIds.map((replayId) => this.keys.replay(replayId)),
      id,
      tenant,
      this.keys.subscriptionNoticeChannel(),
      String(NOTICE_LOG_LENGTH),
      options.expectedVersion === undefined ? '' : String(options.expectedVersion),
    );
    if (Number(seq) < 0)
      throw new SubscriptionVersionConflictError(id, options.expectedVersion!, -1 - Number(seq));
    return Number(seq) > 0;
  }

  /**
   * Every subscription with its secrets, for a delivery engine instance building its index, and
   * the notice sequence number the load reflects at least: listen for notices after `seq`.
   * (A change made during the load may be both in the result and in a later notice; notices
   * only say what to re-read, so applying one twice is harmless.)
   */
  async loadAll(): Promise<{
    seq: number;
    subscriptions: StoredSubscription[];
    /** Subscriptions that could not be opened (say, sealed under another HERALD_SECRET_KEY). */
    unreadable: { id: string; error: unknown }[];
  }> {
    const seq = Number((await this.redis.client.get(this.keys.subscriptionNoticeSeq())) ?? 0);
    const subscriptions: StoredSubscription[] = [];
    const unreadable: { id: string; error: unknown }[] = [];
    let cursor = '-';
    for (;;) {
      const ids = await this.redis.client.zrange(
        this.keys.subscriptionIndex(),
        cursor,
        '+',
        'BYLEX',
        'LIMIT',
        0,
        LOAD_CHUNK,
      );
      const rows = await this.fetch(ids, ['record', 'sealed']);
      rows.forEach(([record, sealed], i) => {
        if (!record || !sealed) return;
        // One subscription that cannot be opened must not keep every other one from loading.
        try {
          subscriptions.push(this.decode(record, sealed));
        } catch (error) {
          unreadable.push({ id: ids[i]!, error });
        }
      });
      if (ids.length < LOAD_CHUNK) break;
      cursor = `(${ids[ids.length - 1]!}`;
    }
    return { seq, subscriptions, unreadable };
  }

  /** How many subscriptions are in each status (every status present, 0 when none). */
  async countByStatus(): Promise<Record<SubscriptionStatus, number>> {
    const counts = await this.redis.client.hgetall(this.keys.subscriptionStatusCounts());
    return Object.fromEntries(
      SUBSCRIPTION_STATUSES.map((status) => [status, Number(counts[status] ?? 0)]),
    ) as Record<SubscriptionStatus, number>;
  }

  private async save(
    stored: StoredSubscription,
    expectedVersion: number,
    kind: SubscriptionNoticeKind,
    /** The stored sealed value to write again as it is, instead of sealing `stored.secrets`. */
    keptSealed?: string,
  ): Promise<'saved' | 'missing' | { actual: number }> {
    const { subscription } = stored;
    const sealed = keptSealed ?? this.cipher.seal(JSON.stringify(stored.secrets), subscription.id);
    const [code, value] = (await this.redis.client.eval(
      SAVE_SCRIPT,
      7,
      this.keys.subscription(subscription.id),
      this.keys.subscriptionIndex(),
      this.keys.tenantSubscriptions(subscription.tenant),
      this.keys.subscriptionStatusCounts(),
      this.keys.subscriptionNoticeSeq(),
      this.keys.subscriptionNoticeLog(),
      this.keys.deliveryHealth(subscription.id),
      String(expectedVersion),
      JSON.stringify(subscription),
      sealed,
      subscription.status,
      subscription.tenant,
      subscription.id,
      kind,
      this.keys.subscriptionNoticeChannel(),
      String(NOTICE_LOG_LENGTH),
    )) as [number, number];
    if (code > 0) return 'saved';
    if (code === -2) return 'missing';
    if (code === -1) {
      throw new SubscriptionVersionConflictError(subscription.id, expectedVersion, value);
    }
    return { actual: value };
  }

  private async fetch(ids: readonly string[], fields: string[]): Promise<(string | null)[][]> {
    if (ids.length === 0) return [];
    const pipeline = this.redis.client.pipeline();
    for (const id of ids) pipeline.hmget(this.keys.subscription(id), ...fields);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, row]) => {
      if (error) throw error;
      return row as (string | null)[];
    });
  }

  /**
   * The subscription for `update`, with the stand-in of `unreadableSecrets` when its secrets do
   * not open, and the sealed value as stored; null when it does not exist.
   */
  private async readForUpdate(
    id: string,
  ): Promise<{ current: StoredSubscription; sealed: string } | null> {
    const [record, sealed] = await this.redis.client.hmget(
      this.keys.subscription(id),
      'record',
      'sealed',
    );
    if (!record || !sealed) return null;
    const subscription = JSON.parse(record) as Subscription;
    let secrets: SubscriptionSecrets;
    try {
      secrets = JSON.parse(this.cipher.open(sealed, subscription.id)) as SubscriptionSecrets;
    } catch (error) {
      const reason = unreadableReason(error);
      if (reason === null) throw error;
      secrets = unreadableSecrets(id, {
        reason,
        otherKey: error instanceof SealedSecretError && error.otherKey,
      });
    }
    return { current: { subscription, secrets }, sealed };
  }

  private decode(record: string, sealed: string): StoredSubscription {
    const subscription = JSON.parse(record) as Subscription;
    const secrets = JSON.parse(this.cipher.open(sealed, subscription.id)) as SubscriptionSecrets;
    return { subscription, secrets };
  }
}
