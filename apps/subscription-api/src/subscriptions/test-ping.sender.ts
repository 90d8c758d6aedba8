import { randomUUID } from 'node:crypto';
import { buildWebhookRequest, type WebhookClient } from '@herald/delivery';
import type { Logger } from '@herald/observability';
import {
  RedisUnavailableError,
  activeSecrets,
  type DeliveryLogRepository,
  type StoredSubscription,
} from '@herald/store';
import type { ApiRedisDeadline } from '../http/redis-deadline';

export const PING_TYPE = 'herald.ping';
export const PING_SOURCE = '/herald/subscription-api';

/** What the caller of `POST /v1/subscriptions/{id}/test` learns about the ping. */
export interface PingResult {
  readonly eventId: string;
  readonly delivered: boolean;
  readonly statusCode: number | null;
  readonly durationMs: number;
  readonly error: string | null;
}

/**
 * Sends a signed `herald.ping` to a webhook right away, in the subscription's format with its
 * headers, auth and live secrets, and records the attempt in its delivery log. The API sends it
 * itself (rather than through the delivery engine) so the caller gets the outcome in the answer.
 */
export class TestPingSender {
  constructor(
    private readonly client: WebhookClient,
    private readonly deliveryLog: DeliveryLogRepository,
    private readonly version: string,
    private readonly redis: ApiRedisDeadline,
    private readonly logger: Logger,
  ) {}

  async send(stored: StoredSubscription): Promise<PingResult> {
    const { subscription, secrets } = stored;
    const now = new Date();
    const event = {
      id: randomUUID(),
      type: PING_TYPE,
      source: PING_SOURCE,
      time: now.toISOString(),
      data: {
        subscriptionId: subscription.id,
        tenant: subscription.tenant,
        message: 'Hello from Herald',
        at: now.toISOString(),
      },
    };
    const request = buildWebhookRequest({
      event,
      subscription: {
        id: subscription.id,
        url: subscription.url ?? '',
        format: subscription.format,
        secrets: secrets.signing ? activeSecrets(secrets.signing, now.getTime()) : [],
        headers: subscription.headers,
        auth: secrets.auth,
      },
      attempt: 1,
      nowMs: now.getTime(),
      version: this.version,
    });
    const result = await this.client.send(request);
    const delivered = result.kind === 'response' && result.status >= 200 && result.status < 300;
    const error =
      result.kind === 'error'
        ? `${result.error}: ${result.message}`
        : delivered
          ? null
          : `the endpoint answered ${result.status}`;
    const attempt = {
      eventId: event.id,
      type: PING_TYPE,
      attempt: 1,
      at: now.toISOString(),
      status: delivered ? 'succeeded' : 'failed',
      statusCode: result.kind === 'response' ? result.status : null,
      durationMs: result.durationMs,
      error,
      responseBody: result.kind === 'response' ? result.body : null,
      replay: false,
      test: true,
    } as const;
    try {
      await this.redis.run('write', () => this.deliveryLog.append(subscription.id, attempt));
    } catch (logError) {
      // The ping went out: its outcome is still the answer, without its line in the log.
      if (!(logError instanceof RedisUnavailableError)) throw logError;
      this.logger.warn(
        { err: logError, subscriptionId: subscription.id, eventId: event.id },
        'test ping not recorded in the delivery log',
      );
    }
    return {
      eventId: event.id,
      delivered,
      statusCode: result.kind === 'response' ? result.status : null,
      durationMs: result.durationMs,
      error,
    };
  }
}
