import { randomUUID } from 'node:crypto';
import { buildWebhookRequest, type WebhookClient } from '@herald/delivery';
import { activeSecrets, type DeliveryLogRepository, type StoredSubscription } from '@herald/store';

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
    await this.deliveryLog.append(subscription.id, {
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
    });
    return {
      eventId: event.id,
      delivered,
      statusCode: result.kind === 'response' ? result.status : null,
      durationMs: result.durationMs,
      error,
    };
  }
}
