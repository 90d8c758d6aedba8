import { randomUUID } from 'node:crypto';

/** How an event enters the gateway: HTTP ingest, or a raw record on a producer's source topic. */
export type EventRoute = 'http' | 'source';

/** The HTTP-ingested types (orders channel) and the kitchen types written to `kitchen.raw`. */
export const HTTP_TYPES = [
  'order.created',
  'order.confirmed',
  'order.completed',
  'order.cancelled',
];
export const SOURCE_TYPES = [
  'kitchen.order.received',
  'kitchen.prep.started',
  'kitchen.cooking.started',
  'kitchen.order.plated',
  'kitchen.order.ready',
  'kitchen.order.picked_up',
];
export const SOURCE_TOPIC = 'kitchen.raw';
export const CHANNEL_TOPICS = ['orders.v1', 'kitchen.v1'];
/** Two kitchens, so a filtered subscription gets half of the kitchen events. */
export const KITCHENS = ['lyon-part-dieu', 'paris-bastille'];

/** One event of the run: what was sent, and whether the gateway accepted it. */
export interface LedgerEvent {
  readonly n: number;
  readonly id: string;
  readonly type: string;
  readonly route: EventRoute;
  readonly keyIndex: number;
  /** The partition key: the payload's orderId. */
  readonly key: string;
  readonly kitchen: string;
  /** When the last send attempt started (ms since epoch). */
  sentAt: number;
  /** When the gateway (202/200) or Kafka (ack) accepted it; 0 until then. */
  acceptedAt: number;
  /** Gave up: the gateway refused it or never answered within the retry budget. */
  failed: boolean;
  attempts: number;
  /** The last answer: an HTTP status, 0 for no answer (connection error, timeout), -1 for a Kafka error. */
  lastStatus: number;
}

/**
 * Every event a run publishes, numbered. Ids are `<run>-<n>` (warm-up events `<run>-w<n>`), so
 * anything a receiver or stream sees maps back to its entry without a lookup table.
 */
export class EventLedger {
  readonly events: LedgerEvent[] = [];
  private readonly keys: string[];

  constructor(
    readonly runId: string,
    readonly keyCount: number,
    /** Keys `[0, httpKeys)` go over HTTP, the rest through the source topic. */
    readonly httpKeys: number,
  ) {
    this.keys = Array.from({ length: keyCount }, () => randomUUID());
  }

  /** Plans event `n`: key `n mod keys`; its type cycles through the route's types. */
  plan(): LedgerEvent {
    const n = this.events.length;
    const keyIndex = n % this.keyCount;
    const seq = Math.floor(n / this.keyCount);
    const route: EventRoute = keyIndex < this.httpKeys ? 'http' : 'source';
    const types = route === 'http' ? HTTP_TYPES : SOURCE_TYPES;
    const event: LedgerEvent = {
      n,
      id: `${this.runId}-${n}`,
      type: types[seq % types.length]!,
      route,
      keyIndex,
      key: this.keys[keyIndex]!,
      kitchen: KITCHENS[(keyIndex + seq) % KITCHENS.length]!,
      sentAt: 0,
      acceptedAt: 0,
      failed: false,
      attempts: 0,
      lastStatus: 0,
    };
    this.events.push(event);
    return event;
  }

  /** The ledger number of a run event id, or undefined for warm-up and foreign ids. */
  numberOf(id: string | undefined): number | undefined {
    if (id === undefined || !id.startsWith(`${this.runId}-`)) return undefined;
    const rest = id.slice(this.runId.length + 1);
    if (!/^\d+$/.test(rest)) return undefined;
    const n = Number(rest);
    return n < this.events.length ? n : undefined;
  }

  warmUpId(i: number): string {
    return `${this.runId}-w${i}`;
  }

  keyFor(index: number): string {
    return this.keys[index]!;
  }

  get accepted(): number {
    return this.events.reduce((sum, e) => sum + (e.acceptedAt > 0 ? 1 : 0), 0);
  }
}

/**
 * A valid payload for `type`: the contract's example with this event's order id (the partition
 * key) and kitchen.
 */
export function payloadFor(
  examples: ReadonlyMap<string, Record<string, unknown>>,
  type: string,
  key: string,
  kitchen: string,
): Record<string, unknown> {
  const example = examples.get(type);
  if (!example) throw new Error(`The contract has no example for ${type}`);
  const payload: Record<string, unknown> = { ...example, orderId: key };
  if ('kitchenId' in example) payload.kitchenId = kitchen;
  return payload;
}
