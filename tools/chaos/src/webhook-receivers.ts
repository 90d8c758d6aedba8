import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileTypePattern } from '@herald/contract';
import type { EventLedger } from './event-ledger';
import { sleep } from './random';

/**
 * How a receiver answers:
 * - `fast`: 204 at once;
 * - `slow`: 204 after 50–400 ms;
 * - `flaky`: 500 for 40 % of requests (with a short retry schedule some run out: dead letters);
 * - `unavailable`: 503 with `Retry-After: 1` for 25 %, else 204 after up to 30 ms;
 * - `gone`: 204 until `goAway()`, then 410 (the subscription gets disabled).
 */
export type ReceiverBehaviour = 'fast' | 'slow' | 'flaky' | 'unavailable' | 'gone';

/** Orders every request and response across all receivers of the run (one process, one thread). */
export class ArrivalClock {
  private value = 0;
  tick(): number {
    return ++this.value;
  }
}

/** Latency samples (receipt − publish) bucketed by minute since the run started. */
export class LatencyRecorder {
  readonly buckets = new Map<number, number[]>();
  /** Minute 0 starts here (reset when publishing starts). */
  constructor(public startedAt: number) {}

  record(publishedAt: number, receivedAt: number): void {
    if (publishedAt <= 0) return;
    const minute = Math.floor((receivedAt - this.startedAt) / 60_000);
    let bucket = this.buckets.get(minute);
    if (!bucket) this.buckets.set(minute, (bucket = []));
    bucket.push(receivedAt - publishedAt);
  }
}

/** A Herald operational event (`herald.*`) as a receiver saw it. */
export interface OperationalDelivery {
  readonly type: string;
  readonly tenant: unknown;
  readonly subscriptionId: unknown;
}

export interface ReceiverOptions {
  readonly name: string;
  readonly tenant: string;
  readonly types: readonly string[];
  readonly behaviour: ReceiverBehaviour;
  readonly ledger: EventLedger;
  readonly clock: ArrivalClock;
  readonly latency?: LatencyRecorder;
  /** Slow receivers' delay range in ms; default [50, 400]. */
  readonly slowMs?: readonly [number, number];
}

/**
 * A local webhook endpoint for one subscription that records what a checker needs: every request
 * for a run event (its ledger number and arrival tick), the first success of each, duplicates,
 * and anything that should never reach it (another subscription's header, a type it did not
 * subscribe to, another tenant's operational event).
 */
export class WebhookReceiver {
  subscriptionId = '';
  readonly requestN: number[] = [];
  readonly requestTick: number[] = [];
  /** Ledger number → tick of its first 2xx answer. */
  readonly firstSuccess = new Map<number, number>();
  successes = 0;
  /** 2xx answers to run events (warm-up excluded), duplicates included. */
  runSuccesses = 0;
  requests = 0;
  readonly misrouted: string[] = [];
  readonly operational: OperationalDelivery[] = [];
  /** Requests answered 410 (after `goAway()`). */
  goneAnswers = 0;
  private gone = false;
  private server: Server | undefined;
  private readonly matchers: ((type: string) => boolean)[];
  url = '';

  constructor(readonly options: ReceiverOptions) {
    this.matchers = options.types.map((pattern) => compileTypePattern(pattern));
  }

  get name(): string {
    return this.options.name;
  }

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void this.handle(request, Buffer.concat(chunks).toString('utf8'), response);
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${this.options.name}`;
  }

  /** From now on every request is answered 410 Gone. */
  goAway(): void {
    this.gone = true;
  }

  get isGone(): boolean {
    return this.gone;
  }

  matches(type: string): boolean {
    return this.matchers.some((matches) => matches(type));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(
    request: IncomingMessage,
    body: string,
    response: ServerResponse,
  ): Promise<void> {
    const { clock, ledger } = this.options;
    const arrival = clock.tick();
    const receivedAt = Date.now();
    this.requests += 1;
    let event: { id?: unknown; type?: unknown; data?: Record<string, unknown> } = {};
    try {
      event = JSON.parse(body) as typeof event;
    } catch {
      this.misrouted.push(`unparseable body: ${body.slice(0, 80)}`);
    }
    const type = typeof event.type === 'string' ? event.type : '';
    const header = request.headers['herald-subscription'];
    if (this.subscriptionId !== '' && header !== this.subscriptionId)
      this.misrouted.push(`herald-subscription ${String(header)} on ${type}`);
    if (!this.matches(type)) this.misrouted.push(`type ${type} not subscribed`);
    const webhookId = String(request.headers['webhook-id']);
    // A retry or redelivery must carry the event's own id, or a receiver cannot deduplicate.
    if (typeof event.id === 'string' && event.id !== webhookId)
      this.misrouted.push(`webhook-id ${webhookId} on event ${event.id}`);
    const n = ledger.numberOf(webhookId);
    if (type.startsWith('herald.')) {
      const data = event.data ?? {};
      this.operational.push({ type, tenant: data.tenant, subscriptionId: data.subscriptionId });
    }
    if (n !== undefined) {
      this.requestN.push(n);
      this.requestTick.push(arrival);
    }

    const answer = await this.answer();
    if (answer.status >= 200 && answer.status < 300) {
      this.successes += 1;
      if (n !== undefined) this.runSuccesses += 1;
      if (n !== undefined && !this.firstSuccess.has(n)) {
        // Ticked when the answer leaves: a later request of the same key must arrive after it.
        this.firstSuccess.set(n, clock.tick());
        this.options.latency?.record(ledger.events[n]!.sentAt, receivedAt);
      }
    }
    response.writeHead(answer.status, answer.headers).end();
  }

  private async answer(): Promise<{ status: number; headers?: Record<string, string> }> {
    switch (this.options.behaviour) {
      case 'fast':
        return { status: 204 };
      case 'slow': {
        const [min, max] = this.options.slowMs ?? [50, 400];
        await sleep(min + Math.random() * (max - min));
        return { status: 204 };
      }
      case 'flaky':
        return Math.random() < 0.4 ? { status: 500 } : { status: 204 };
      case 'unavailable':
        if (Math.random() < 0.25) return { status: 503, headers: { 'retry-after': '1' } };
        await sleep(Math.random() * 30);
        return { status: 204 };
      case 'gone':
        if (!this.gone) return { status: 204 };
        this.goneAnswers += 1;
        return { status: 410 };
    }
  }
}
