import type { Principal } from '@herald/auth';
import { ForbiddenError } from '@herald/auth';
import type { ContractRegistry } from '@herald/contract';
import { DEFAULT_RETRY_SCHEDULE, generateSecret } from '@herald/delivery';
import { isHeraldError } from '@herald/errors';
import type { Logger } from '@herald/observability';
import {
  RedisUnavailableError,
  SUBSCRIPTION_ID_PREFIX,
  SealedSecretError,
  SubscriptionNotFoundError,
  backfillRange,
  isSortableId,
  rotateSigningSecrets,
  secretsUnreadable,
  type StoredSubscription,
  type Subscription,
  type Scope,
  type SubscriptionPage,
  type ReplayRepository,
  type SubscriptionRepository,
  type UnreadableSecrets,
  type VerificationMode,
  type VerificationState,
} from '@herald/store';
import type { ApiRedisDeadline } from '../http/redis-deadline';
import { DEFAULT_MAX_IN_FLIGHT, type CreateSubscriptionDto } from './create-subscription.dto';
import type { OwnershipVerifier, VerificationOutcome } from './ownership-verifier';
import type { UnreadableSecretsOutcome } from './subscription.metrics';
import type { RotateSecretDto } from './subscription-commands.dto';
import {
  checkFilter,
  checkHeaders,
  checkRetrySchedule,
  checkStartPosition,
  checkTypes,
} from './subscription-rules';
import {
  InvalidSubscriptionRequestError,
  SecretsUnreadableError,
  SubscriptionStateError,
  type RequestProblem,
} from './subscriptions.errors';
import type { SubscriptionsConfig } from './subscriptions.config';
import type { PingResult, TestPingSender } from './test-ping.sender';
import type { UpdateSubscriptionDto } from './update-subscription.dto';
import type { WebhookUrlGuard } from './webhook-url.guard';

const NOT_REQUIRED: VerificationState = {
  mode: 'none',
  state: 'not_required',
  checkedAt: null,
  failure: null,
};

function pendingCheck(mode: VerificationMode): VerificationState {
  return mode === 'none'
    ? NOT_REQUIRED
    : { mode, state: 'pending', checkedAt: null, failure: null };
}

/**
 * Fields only a webhook's delivery reads, each with the value every stream subscription has (a
 * request may name that one: it changes nothing); any other value is refused for a stream.
 */
const WEBHOOK_ONLY: Readonly<
  Partial<Record<keyof UpdateSubscriptionDto, (value: unknown) => boolean>>
> = {
  url: (value) => value === null,
  headers: (value) =>
    value !== null && typeof value === 'object' && Object.keys(value).length === 0,
  auth: (value) => value === null,
  verification: (value) => value === 'none',
  retry: (value) => value === null,
  maxPerSecond: (value) => value === null,
  format: (value) => value === 'cloudevents',
  ordering: (value) => value === 'key',
  maxInFlight: (value) => value === DEFAULT_MAX_IN_FLIGHT,
};

/**
 * The subscription use cases behind the HTTP API: every input check, tenant ownership (another
 * tenant's subscription is "not found"), status changes, secret rotation, test pings, and the
 * asynchronous ownership checks that move a subscription from `pending` to `active`.
 *
 * Each Redis call a request makes is bounded by `redis` (503 past it). A change given up on while
 * Redis holds it may still be made when Redis answers: its follow-ups (an ownership check, the
 * log line) then run as if it had been in time, except a creation, which is deleted again (the
 * caller never got its id or secret, and would create it once more).
 *
 * A subscription whose stored secrets do not open (a damaged dump restored) still takes every
 * change that leaves them alone, its sealed value kept as stored; one that needs them is 409
 * `subscriptions.secrets_unreadable_conflict`, except a rotation of a webhook that leaves nothing
 * unknown behind: one without endpoint auth, or one whose request sends its credentials again,
 * replaces them with the new signing secret (and those credentials).
 */
export class SubscriptionsService {
  /** Ownership checks and late-creation undos still running. */
  private readonly background = new Set<Promise<void>>();

  constructor(
    private readonly repository: SubscriptionRepository,
    private readonly contract: ContractRegistry,
    private readonly urlGuard: WebhookUrlGuard,
    private readonly verifier: OwnershipVerifier,
    private readonly pinger: TestPingSender,
    private readonly replays: ReplayRepository,
    private readonly config: SubscriptionsConfig,
    private readonly logger: Logger,
    private readonly redis: ApiRedisDeadline,
    private readonly countUnreadableSecrets: (outcome: UnreadableSecretsOutcome) => void,
  ) {}

  async create(
    principal: Principal,
    dto: CreateSubscriptionDto,
  ): Promise<{ subscription: Subscription; secret: string | null }> {
    const tenant = this.tenantFor(principal, dto.tenant);
    const webhook = dto.kind === 'webhook';
    if (webhook && dto.url === undefined) {
      throw new InvalidSubscriptionRequestError([
        { pointer: '/url', message: 'is required for a webhook' },
      ]);
    }
    if (!webhook) this.refuseWebhookFields(dto);
    const types = checkTypes(dto.types, this.contract, principal);
    const filter = checkFilter(dto.filter);
    const from = checkStartPosition(dto.from);
    const schedule = checkRetrySchedule(dto.retry?.schedule ?? DEFAULT_RETRY_SCHEDULE);
    const headers = checkHeaders(dto.headers);
    const url = webhook ? await this.urlGuard.check(dto.url!) : null;
    const mode: VerificationMode = webhook
      ? (dto.verification ?? this.config.defaultVerification)
      : 'none';
    const secret = webhook ? generateSecret() : null;
    const create = () =>
      this.repository.create(
        {
          tenant,
          kind: dto.kind,
          url,
          types,
          allowedTypes: principal.typePatterns('subscriptions:write'),
          filter,
          format: dto.format,
          ordering: dto.ordering,
          from,
          maxInFlight: dto.maxInFlight,
          maxPerSecond: dto.maxPerSecond,
          retry: { schedule },
          headers,
          authType: dto.auth?.type ?? null,
          verification: pendingCheck(mode),
          description: dto.description,
          metadata: dto.metadata,
          status: mode === 'none' ? 'active' : 'pending',
          statusReason: mode === 'none' ? null : 'waiting for the ownership check',
          createdByKey: principal.keyId,
        },
        { signing: secret ? { current: secret, previous: null } : null, auth: dto.auth },
      );
    const { subscription } = await this.redis.run('write', create, {
      abandoned: (late) => this.undoCreate(late.subscription),
    });
    this.logger.info(
      {
        subscriptionId: subscription.id,
        tenant,
        kind: subscription.kind,
        types,
        url,
        keyId: principal.keyId,
      },
      'subscription created',
    );
    if (subscription.status === 'pending') this.startOwnershipCheck(subscription.id);
    else await this.requestBackfill(subscription);
    return { subscription, secret };
  }

  /**
   * The backfill of a subscription just created active. It exists by now: a Redis that stops
   * answering here does not fail its creation, since fanout asks for a backfill never asked for.
   */
  private async requestBackfill(subscription: Subscription): Promise<void> {
    try {
      await this.redis.run('write', () => this.backfill(subscription));
    } catch (error) {
      if (!(error instanceof RedisUnavailableError)) throw error;
      this.logger.warn(
        { err: error, subscriptionId: subscription.id },
        'backfill not requested: fanout asks for it when it delivers',
      );
    }
  }

  /** A creation Redis made after its request was answered 503 is taken back. */
  private undoCreate(subscription: Subscription): void {
    const { id, tenant } = subscription;
    this.track(
      this.repository.delete(id).then(
        () =>
          this.logger.warn(
            { subscriptionId: id, tenant },
            'subscription created after its request was answered 503: deleted it',
          ),
        (error: unknown) =>
          this.logger.error(
            { err: error, subscriptionId: id, tenant },
            'subscription created after its request was answered 503 could not be deleted',
          ),
      ),
    );
  }

  async list(
    principal: Principal,
    page: { limit: number; cursor?: string },
  ): Promise<SubscriptionPage> {
    if (page.cursor !== undefined && !isSortableId(page.cursor, SUBSCRIPTION_ID_PREFIX)) {
      throw new InvalidSubscriptionRequestError([
        { pointer: '/cursor', message: 'is not a cursor this API gave out' },
      ]);
    }
    const listed = await this.redis.run('read', () =>
      this.repository.list({
        ...(principal.isAdmin ? {} : { tenant: principal.tenant }),
        limit: page.limit,
        cursor: page.cursor ?? null,
      }),
    );
    // A key limited to some types lists only the subscriptions within them (a page may then
    // hold fewer than `limit`; its cursor still goes on from where it ended).
    if (principal.typePatterns('subscriptions:read') === null) return listed;
    return {
      ...listed,
      items: listed.items.filter((s) => this.covers(principal, s, 'subscriptions:read')),
    };
  }

  /**
   * The subscription when it exists, belongs to the caller's tenant and lies within the types
   * the key's `scope` covers (a key limited to `order.*` neither sees nor touches a subscription
   * to `payment.*`); 404 otherwise, as for another tenant's, or 403 when the key may read it but
   * not change it.
   */
  async get(
    principal: Principal,
    id: string,
    scope: 'subscriptions:read' | 'subscriptions:write',
  ): Promise<Subscription> {
    if (isSortableId(id, SUBSCRIPTION_ID_PREFIX)) {
      const subscription = await this.redis.run('read', () => this.repository.get(id));
      if (subscription && principal.ownsTenant(subscription.tenant)) {
        if (this.covers(principal, subscription, scope)) return subscription;
        // One it may see but not change: say why rather than pretend it is not there.
        if (
          scope === 'subscriptions:write' &&
          this.covers(principal, subscription, 'subscriptions:read')
        )
          throw new ForbiddenError(
            `This API key's subscriptions:write covers ${(principal.typePatterns(scope) ?? []).join(', ')}; this subscription receives types outside them`,
          );
      }
    }
    throw new SubscriptionNotFoundError(id);
  }

  /** Whether every event type the subscription can receive is one `scope` covers for the key. */
  private covers(principal: Principal, subscription: Subscription, scope: Scope): boolean {
    if (principal.typePatterns(scope) === null) return true;
    return subscription.types.every((glob) => {
      const matched = this.contract.matchTypes(glob);
      // A glob that matches nothing now (the contract changed) is judged by its own text.
      return (matched.length > 0 ? matched : [glob]).every((type) => principal.allows(scope, type));
    });
  }

  async update(
    principal: Principal,
    id: string,
    dto: UpdateSubscriptionDto,
    expectedVersion?: number,
  ): Promise<Subscription> {
    const current = await this.get(principal, id, 'subscriptions:write');
    if (current.kind === 'stream') this.refuseWebhookFields(dto);
    const types = dto.types && checkTypes(dto.types, this.contract, principal);
    const filter = dto.filter === undefined ? undefined : checkFilter(dto.filter);
    const schedule = dto.retry && checkRetrySchedule(dto.retry.schedule);
    const headers = dto.headers && checkHeaders(dto.headers);
    const url = dto.url === undefined ? undefined : await this.urlGuard.check(dto.url);
    let recheck = false;
    let unreadable: UnreadableSecrets | null = null;
    const change = () =>
      this.repository.update(
        id,
        (stored) => {
          const before = stored.subscription;
          unreadable = secretsUnreadable(stored.secrets);
          // No auth asked for one that has none changes nothing in the secrets: no need to read them.
          const authChanges =
            dto.auth !== undefined && !(dto.auth === null && before.authType === null);
          if (unreadable && authChanges) {
            throw this.refuseUnreadable(before, unreadable, 'its endpoint auth cannot be changed');
          }
          const mode = dto.verification ?? before.verification.mode;
          const endpointChanged =
            (url !== undefined && url !== before.url) || mode !== before.verification.mode;
          let verification = before.verification;
          let status = before.status;
          let statusReason = before.statusReason;
          if (endpointChanged) {
            verification = pendingCheck(mode);
            recheck = mode !== 'none';
            if (recheck && status === 'active') {
              status = 'pending';
              statusReason = 'waiting for the ownership check';
            }
            if (!recheck && status === 'pending') {
              status = 'active';
              statusReason = null;
            }
          }
          return {
            subscription: {
              ...before,
              ...(url !== undefined ? { url } : {}),
              ...(types !== undefined
                ? { types, allowedTypes: principal.typePatterns('subscriptions:write') }
                : {}),
              ...(filter !== undefined ? { filter } : {}),
              ...(dto.format !== undefined ? { format: dto.format } : {}),
              ...(dto.ordering !== undefined ? { ordering: dto.ordering } : {}),
              ...(dto.maxInFlight !== undefined ? { maxInFlight: dto.maxInFlight } : {}),
              ...(dto.maxPerSecond !== undefined ? { maxPerSecond: dto.maxPerSecond } : {}),
              ...(schedule !== undefined ? { retry: { schedule } } : {}),
              ...(headers !== undefined ? { headers } : {}),
              ...(dto.auth !== undefined ? { authType: dto.auth?.type ?? null } : {}),
              ...(dto.description !== undefined ? { description: dto.description } : {}),
              ...(dto.metadata !== undefined ? { metadata: dto.metadata } : {}),
              verification,
              status,
              statusReason,
            },
            secrets: authChanges ? { ...stored.secrets, auth: dto.auth ?? null } : stored.secrets,
          };
        },
        { expectedVersion },
      );
    const updated = ({ subscription }: StoredSubscription, late = false) => {
      this.keptUnreadable(id, unreadable);
      this.logger.info(
        {
          subscriptionId: id,
          tenant: subscription.tenant,
          fields: Object.keys(dto),
          keyId: principal.keyId,
          ...(late ? { late } : {}),
        },
        'subscription updated',
      );
      if (recheck) this.startOwnershipCheck(id);
      return subscription;
    };
    return updated(
      await this.redis.run('write', change, {
        abandoned: (late) => updated(late, true),
      }),
    );
  }

  /** With `expectedVersion` (If-Match), a subscription changed since fails with 409. */
  async delete(principal: Principal, id: string, expectedVersion?: number): Promise<void> {
    const subscription = await this.get(principal, id, 'subscriptions:write');
    const deleted = (late = false) =>
      this.logger.info(
        {
          subscriptionId: id,
          tenant: subscription.tenant,
          keyId: principal.keyId,
          ...(late ? { late } : {}),
        },
        'subscription deleted',
      );
    const existed = await this.redis.run(
      'write',
      () => this.repository.delete(id, { expectedVersion }),
      {
        abandoned: (existed) => {
          if (existed) deleted(true);
        },
      },
    );
    if (!existed) throw new SubscriptionNotFoundError(id);
    deleted();
  }

  async pause(principal: Principal, id: string, expectedVersion?: number): Promise<Subscription> {
    await this.get(principal, id, 'subscriptions:write');
    let unreadable: UnreadableSecrets | null = null;
    const paused = (late = false) => {
      this.keptUnreadable(id, unreadable);
      this.logger.info(
        { subscriptionId: id, keyId: principal.keyId, ...(late ? { late } : {}) },
        'subscription paused',
      );
    };
    const { subscription } = await this.redis.run(
      'write',
      () =>
        this.repository.update(
          id,
          (stored) => {
            unreadable = secretsUnreadable(stored.secrets);
            return {
              ...stored,
              subscription: {
                ...stored.subscription,
                status: 'paused',
                statusReason: 'paused by its owner',
              },
            };
          },
          { expectedVersion },
        ),
      { abandoned: () => paused(true) },
    );
    paused();
    return subscription;
  }

  /**
   * Back to `active`, or to `pending` (with a new ownership check) when its check has not
   * passed yet. Also how a partner retries a failed check after fixing the endpoint.
   */
  async resume(principal: Principal, id: string, expectedVersion?: number): Promise<Subscription> {
    await this.get(principal, id, 'subscriptions:write');
    let recheck = false;
    let unreadable: UnreadableSecrets | null = null;
    const change = () =>
      this.repository.update(
        id,
        (stored) => {
          unreadable = secretsUnreadable(stored.secrets);
          const before = stored.subscription;
          const { verification } = before;
          recheck = verification.mode !== 'none' && verification.state !== 'passed';
          return {
            ...stored,
            subscription: {
              ...before,
              status: recheck ? 'pending' : 'active',
              statusReason: recheck ? 'waiting for the ownership check' : null,
              verification: recheck ? pendingCheck(verification.mode) : verification,
            },
          };
        },
        { expectedVersion },
      );
    const resumed = (late = false) => {
      this.keptUnreadable(id, unreadable);
      this.logger.info(
        { subscriptionId: id, keyId: principal.keyId, recheck, ...(late ? { late } : {}) },
        'subscription resumed',
      );
      if (recheck) this.startOwnershipCheck(id);
    };
    const { subscription } = await this.redis.run('write', change, {
      abandoned: () => resumed(true),
    });
    resumed();
    return subscription;
  }

  /**
   * A new signing secret; with `auth`, the endpoint credentials are replaced in the same change
   * (null removes them, as on PATCH). Secrets that do not open are replaced when nothing unknown
   * is left behind: no endpoint auth, or credentials sent again in `auth`.
   */
  async rotateSecret(
    principal: Principal,
    id: string,
    { graceSeconds, auth }: RotateSecretDto,
  ): Promise<{ secret: string; previousSecretExpiresAt: string | null }> {
    const current = await this.get(principal, id, 'subscriptions:write');
    if (current.kind !== 'webhook') {
      throw new SubscriptionStateError('Stream subscriptions have no signing secret');
    }
    const secret = generateSecret();
    let replaced: UnreadableSecrets | null = null;
    const rotated = (late = false) => {
      const context = {
        subscriptionId: id,
        graceSeconds,
        authReplaced: auth !== undefined,
        keyId: principal.keyId,
        ...(late ? { late } : {}),
      };
      if (replaced) {
        this.countUnreadableSecrets('replaced');
        this.logger.warn(
          { ...context, reason: replaced.reason },
          'stored secrets did not open; replaced by the rotated signing secret',
        );
      }
      this.logger.info(context, 'secret rotated');
    };
    // Made late, it rotated to a secret nobody was told: the caller rotates again (see README).
    const { secrets } = await this.redis.run(
      'write',
      () =>
        this.repository.update(id, (stored) => {
          replaced = secretsUnreadable(stored.secrets);
          const before = stored.subscription;
          const subscription =
            auth === undefined ? before : { ...before, authType: auth?.type ?? null };
          if (replaced) {
            // Nothing to keep when the request sends the credentials again, or there were none.
            if (replaced.otherKey || (auth === undefined && before.authType !== null)) {
              throw this.refuseUnreadable(
                before,
                replaced,
                'rotating would lose what else they hold',
                true,
              );
            }
            return {
              subscription,
              secrets: { signing: { current: secret, previous: null }, auth: auth ?? null },
            };
          }
          return {
            subscription,
            secrets: {
              signing: stored.secrets.signing
                ? rotateSigningSecrets(stored.secrets.signing, secret, graceSeconds)
                : { current: secret, previous: null },
              auth: auth === undefined ? stored.secrets.auth : auth,
            },
          };
        }),
      { abandoned: () => rotated(true) },
    );
    rotated();
    return { secret, previousSecretExpiresAt: secrets.signing?.previous?.expiresAt ?? null };
  }

  async sendTestPing(principal: Principal, id: string): Promise<PingResult> {
    const subscription = await this.get(principal, id, 'subscriptions:write');
    if (subscription.kind !== 'webhook') {
      throw new SubscriptionStateError(
        'Test pings go to webhooks; a stream client sees live events',
      );
    }
    if (subscription.status === 'pending') {
      throw new SubscriptionStateError(
        'The endpoint has not passed its ownership check yet; nothing is sent to it until it does',
      );
    }
    let stored: StoredSubscription | null;
    try {
      stored = await this.redis.run('read', () => this.repository.getWithSecrets(id));
    } catch (error) {
      if (!(error instanceof SealedSecretError)) throw error;
      throw this.refuseUnreadable(
        subscription,
        { reason: error.message, otherKey: error.otherKey },
        'nothing can be signed for it',
      );
    }
    if (!stored) throw new SubscriptionNotFoundError(id);
    return this.pinger.send(stored);
  }

  /**
   * The 409 for a request that needs the stored secrets of `subscription`, which do not open:
   * why (`cannot`), and what the caller can do instead (`rotating`: the request is the rotation
   * that would repair them, given what it lacks).
   */
  private refuseUnreadable(
    subscription: Subscription,
    unreadable: UnreadableSecrets,
    cannot: string,
    rotating = false,
  ): SecretsUnreadableError {
    this.countUnreadableSecrets('refused');
    let remedy: string;
    if (unreadable.otherKey) {
      remedy =
        'they were sealed under another HERALD_SECRET_KEY than this service has, so the key is what to fix (docs/operations.md, HeraldSubscriptionSecretsUnusable), not the subscription';
    } else if (subscription.kind === 'webhook' && subscription.authType === null) {
      remedy =
        'POST /v1/subscriptions/{id}/secret/rotate replaces them with a new signing secret (nothing else was in them); then repeat this request';
    } else if (subscription.kind === 'webhook') {
      const rotate = rotating
        ? 'send this rotation again'
        : 'POST /v1/subscriptions/{id}/secret/rotate';
      remedy = `its endpoint credentials (${subscription.authType}) cannot be recovered and must be sent again: ${rotate} with them in \`auth\` (or \`auth: null\` for none), which replaces the secrets with a new signing secret and those credentials${rotating ? '' : '; then repeat this request'}`;
    } else {
      remedy = 'delete the subscription and create it again';
    }
    return new SecretsUnreadableError(
      `The stored secrets of subscription ${subscription.id} do not open (${unreadable.reason}), so ${cannot}; ${remedy}`,
    );
  }

  /** A change saved on a subscription whose secrets do not open: their sealed value was kept. */
  private keptUnreadable(id: string, unreadable: UnreadableSecrets | null): void {
    if (!unreadable) return;
    this.countUnreadableSecrets('kept');
    this.logger.warn(
      { subscriptionId: id, reason: unreadable.reason },
      'stored secrets do not open; the change left them as stored',
    );
  }

  /** Waits for ownership checks and undos still running (on shutdown). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.background]);
  }

  private tenantFor(principal: Principal, requested: string | undefined): string {
    if (requested === undefined || requested === principal.tenant) return principal.tenant;
    if (principal.isAdmin) return requested;
    throw new ForbiddenError('This API key may only create subscriptions for its own tenant');
  }

  /** The same refusal for a stream's creation and its PATCH: 400 naming each field. */
  private refuseWebhookFields(dto: UpdateSubscriptionDto | CreateSubscriptionDto): void {
    const problems: RequestProblem[] = Object.entries(WEBHOOK_ONLY)
      .filter(([field, streamHas]) => {
        const value: unknown = dto[field as keyof UpdateSubscriptionDto];
        return value !== undefined && !streamHas(value);
      })
      .map(([field]) => ({ pointer: `/${field}`, message: 'applies to webhooks only' }));
    if (problems.length > 0) throw new InvalidSubscriptionRequestError(problems);
  }

  /**
   * A webhook subscription that starts at `earliest` or a past time gets what Kafka holds from
   * then until its creation as a replay (marked `herald-replay: true`, in order per key among
   * itself); live delivery starts at its creation, so the two never overlap (fanout's
   * `startOf`). Asked once, when the subscription first becomes active.
   */
  private async backfill(subscription: Subscription): Promise<void> {
    const range = backfillRange(subscription);
    if (!range) return;
    // Once: a later check that passes again (a new URL, a resume) must not send it all again.
    const { replay, created } = await this.replays.requestBackfill({
      subscriptionId: subscription.id,
      tenant: subscription.tenant,
      range,
    });
    if (created)
      this.logger.info(
        { subscriptionId: subscription.id, replayId: replay.id, ...range },
        'backfill requested',
      );
  }

  private startOwnershipCheck(id: string): void {
    this.track(
      this.runOwnershipCheck(id).catch((error: unknown) =>
        this.logger.error(
          { err: error, subscriptionId: id },
          'ownership check could not be recorded',
        ),
      ),
    );
  }

  private track(work: Promise<void>): void {
    const tracked = work.finally(() => this.background.delete(tracked));
    this.background.add(tracked);
  }

  private async runOwnershipCheck(id: string): Promise<void> {
    const checked = await this.repository.get(id);
    if (!checked || checked.verification.state !== 'pending') return;
    const outcome = await this.verifier.verify(checked);
    let settled: Subscription;
    try {
      ({ subscription: settled } = await this.repository.update(id, (stored) =>
        this.settleCheck(stored, checked, outcome),
      ));
    } catch (error) {
      if (isHeraldError(error, 'store.subscription.not_found')) return; // deleted meanwhile
      throw error;
    }
    const { tenant, url, verification } = checked;
    if (outcome.passed) {
      this.logger.info(
        { subscriptionId: id, tenant, url, mode: verification.mode },
        'subscription verified',
      );
      // Now active: what it asked for from before its creation is sent now (once).
      if (settled.status === 'active') await this.backfill(settled);
    } else {
      this.logger.warn(
        { subscriptionId: id, tenant, url, mode: verification.mode, reason: outcome.reason },
        'subscription verification failed',
      );
    }
  }

  /** Records a check's outcome, unless the endpoint changed while it ran (a newer check owns it). */
  private settleCheck(
    stored: StoredSubscription,
    checked: Subscription,
    outcome: VerificationOutcome,
  ): StoredSubscription {
    const now = stored.subscription;
    if (
      now.url !== checked.url ||
      now.verification.mode !== checked.verification.mode ||
      now.verification.state !== 'pending'
    ) {
      return stored;
    }
    const checkedAt = new Date().toISOString();
    if (outcome.passed) {
      return {
        ...stored,
        subscription: {
          ...now,
          verification: { ...now.verification, state: 'passed', checkedAt, failure: null },
          status: now.status === 'pending' ? 'active' : now.status,
          statusReason: now.status === 'pending' ? null : now.statusReason,
        },
      };
    }
    return {
      ...stored,
      subscription: {
        ...now,
        verification: { ...now.verification, state: 'failed', checkedAt, failure: outcome.reason },
        statusReason:
          now.status === 'pending'
            ? `ownership check failed: ${outcome.reason}; fix the endpoint and POST /resume`
            : now.statusReason,
      },
    };
  }
}
