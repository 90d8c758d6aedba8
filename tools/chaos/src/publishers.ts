import pino from 'pino';
import { KafkaPublisher } from '@herald/kafka';
import { createTestConnection } from '@herald/kafka/testing';
import { SOURCE_TOPIC, payloadFor, type LedgerEvent } from './event-ledger';
import { sleep } from './random';

/** How long one event is retried before the run counts it as not accepted. */
const GIVE_UP_MS = 90_000;

export interface Publisher {
  /** Sends `event` until it is accepted or refused for good; records the outcome on it. */
  publish(event: LedgerEvent): Promise<void>;
  close(): Promise<void>;
}

/**
 * HTTP ingest (`POST /v1/events/{type}`) with the ledger id as `Idempotency-Key`, so a retry after
 * an unanswered request (ingest-bridge killed mid-request) cannot create a second event id.
 * Retries connection errors, 408, 409, 429 and 5xx; any other 4xx is a refusal.
 */
export class HttpPublisher implements Publisher {
  /** Non-2xx answers by status, for the report. */
  readonly statuses = new Map<number, number>();
  networkErrors = 0;

  constructor(
    private readonly ingestUrl: () => string,
    private readonly key: string,
    private readonly examples: ReadonlyMap<string, Record<string, unknown>>,
  ) {}

  async publish(event: LedgerEvent): Promise<void> {
    const body = JSON.stringify(payloadFor(this.examples, event.type, event.key, event.kitchen));
    const giveUpAt = Date.now() + GIVE_UP_MS;
    while (Date.now() < giveUpAt) {
      event.attempts += 1;
      event.sentAt = Date.now();
      let status = 0;
      try {
        const response = await fetch(`${this.ingestUrl()}/v1/events/${event.type}`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.key}`,
            'content-type': 'application/json',
            'idempotency-key': event.id,
          },
          body,
          signal: AbortSignal.timeout(20_000),
        });
        await response.arrayBuffer();
        status = response.status;
      } catch {
        this.networkErrors += 1;
      }
      event.lastStatus = status;
      if (status >= 200 && status < 300) {
        event.acceptedAt = Date.now();
        return;
      }
      if (status !== 0) this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      // 409: the id is reserved by a request that has not finished — after an ingest-bridge
      // SIGKILL, until the reservation expires (30 s). Like 408 and 429, worth another try.
      if (status >= 400 && status < 500 && ![408, 409, 429].includes(status)) break;
      await sleep(200 + Math.random() * 300);
    }
    event.failed = true;
  }

  async close(): Promise<void> {
    // Nothing held open: fetch's pool closes idle sockets by itself.
  }
}

/**
 * Raw JSON records on the kitchen's source topic, as the kitchen display system would write them,
 * with `ce_type` and `ce_id` headers; the bridge validates and republishes them. Retries until
 * Kafka acknowledges (the broker may be down).
 */
export class SourceTopicPublisher implements Publisher {
  failures = 0;
  private readonly connection;
  private readonly publisher: KafkaPublisher;

  constructor(
    brokers: string,
    private readonly examples: ReadonlyMap<string, Record<string, unknown>>,
  ) {
    this.connection = createTestConnection(brokers, 'silent');
    this.publisher = new KafkaPublisher(this.connection, pino({ level: 'silent' }), {
      timeoutMs: 5000,
      lingerMs: 2,
    });
  }

  async publish(event: LedgerEvent): Promise<void> {
    const value = JSON.stringify(payloadFor(this.examples, event.type, event.key, event.kitchen));
    const giveUpAt = Date.now() + GIVE_UP_MS;
    while (Date.now() < giveUpAt) {
      event.attempts += 1;
      event.sentAt = Date.now();
      try {
        await this.publisher.publish([
          {
            topic: SOURCE_TOPIC,
            key: event.key,
            value,
            headers: {
              ce_type: event.type,
              ce_id: event.id,
              ce_time: new Date(event.sentAt).toISOString(),
            },
          },
        ]);
        event.acceptedAt = Date.now();
        return;
      } catch {
        event.lastStatus = -1;
        this.failures += 1;
        await sleep(300 + Math.random() * 300);
      }
    }
    event.failed = true;
  }

  async close(): Promise<void> {
    await this.publisher.close().catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}
