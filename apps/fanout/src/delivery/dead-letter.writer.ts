import { randomUUID } from 'node:crypto';
import { structuredCloudEvent } from '@herald/delivery';
import { HERALD_TOPICS, toKafkaHeaders, type KafkaPublisher } from '@herald/kafka';
import type { Subscription } from '@herald/store';
import type { DeadLetterRetention } from './dead-letter.retention';
import type { DeliveryTask } from './delivery-task';

/** Where Herald's operational events say they come from (the contract's `x-herald-source`). */
export const OPERATIONAL_SOURCE = '/herald/fanout';

export const OPERATIONAL_TYPES = {
  deliveryExhausted: 'herald.delivery.exhausted',
  subscriptionDisabled: 'herald.subscription.disabled',
} as const;

/** Why Herald disabled a subscription (the contract's enum). */
export type DisableReason = 'failing_too_long' | 'endpoint_gone';

export interface LastAttempt {
  readonly status: number | null;
  readonly error: string | null;
}

/**
 * Publishes Herald's operational events to `herald.operational` as CloudEvents (binary mode,
 * keyed by subscription so one subscription's events stay in order) and writes dead letters:
 * the record on `herald.dlq.delivery`, the entry the API lists (within the retention limits;
 * none once the subscription is deleted, the topic's record being the durable one), then
 * `herald.delivery.exhausted`.
 */
export class DeadLetterWriter {
  constructor(
    private readonly publisher: KafkaPublisher,
    private readonly deadLetters: DeadLetterRetention,
  ) {}

  async deadLetter(
    task: DeliveryTask,
    subscription: Subscription,
    last: LastAttempt,
  ): Promise<void> {
    const { source } = task;
    const now = new Date().toISOString();
    const attempts = task.attempt;
    const letter = {
      subscriptionId: subscription.id,
      eventId: source.event.id,
      type: source.event.type,
      topic: source.topic,
      partition: source.partition,
      offset: String(source.offset),
      key: source.key,
      attempts,
      lastStatus: last.status,
      lastError: last.error,
      firstAttemptAt: task.firstAttemptAt ?? now,
      deadLetteredAt: now,
    };
    await this.publisher.publish([
      {
        topic: HERALD_TOPICS.dlqDelivery,
        key: subscription.id,
        value: JSON.stringify({
          ...letter,
          tenant: subscription.tenant,
          event: structuredCloudEvent(source.event),
        }),
        headers: { 'content-type': 'application/json', 'herald-subscription': subscription.id },
      },
    ]);
    await this.deadLetters.add(letter);
    await this.publishOperational(OPERATIONAL_TYPES.deliveryExhausted, subscription.id, {
      subscriptionId: subscription.id,
      tenant: subscription.tenant,
      eventId: source.event.id,
      type: source.event.type,
      attempts,
      ...(last.status !== null && last.status >= 100 && last.status <= 599
        ? { lastStatus: last.status }
        : {}),
      ...(last.error !== null ? { lastError: last.error.slice(0, 1000) } : {}),
      firstAttemptAt: letter.firstAttemptAt,
      at: now,
    });
  }

  async subscriptionDisabled(
    subscription: Subscription,
    reason: DisableReason,
    details: {
      lastStatus: number | null;
      lastSuccessAt: string | null;
      failingSince: string | null;
    },
  ): Promise<void> {
    await this.publishOperational(OPERATIONAL_TYPES.subscriptionDisabled, subscription.id, {
      subscriptionId: subscription.id,
      tenant: subscription.tenant,
      reason,
      ...(details.lastStatus !== null && details.lastStatus >= 100 && details.lastStatus <= 599
        ? { lastStatus: details.lastStatus }
        : {}),
      ...(details.lastSuccessAt !== null ? { lastSuccessAt: details.lastSuccessAt } : {}),
      ...(details.failingSince !== null ? { failingSince: details.failingSince } : {}),
      at: new Date().toISOString(),
    });
  }

  private async publishOperational(
    type: string,
    subscriptionId: string,
    data: Record<string, unknown>,
  ): Promise<void> {
    await this.publisher.publish([
      {
        topic: HERALD_TOPICS.operational,
        key: subscriptionId,
        value: JSON.stringify(data),
        headers: toKafkaHeaders({
          id: randomUUID(),
          source: OPERATIONAL_SOURCE,
          type,
          time: new Date().toISOString(),
          datacontenttype: 'application/json',
        }),
      },
    ]);
  }
}
