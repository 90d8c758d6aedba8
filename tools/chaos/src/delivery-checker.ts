import type { EventLedger } from './event-ledger';
import type { KafkaSnapshot } from './kafka-snapshot';
import type { StreamClient } from './stream-clients';
import type { WebhookReceiver } from './webhook-receivers';

/** A webhook subscription of the run and what the gateway says about it afterwards. */
export interface CheckedSubscription {
  readonly receiver: WebhookReceiver;
  /** Only events of this kitchen match (the subscription's filter on `data.kitchenId`). */
  readonly kitchenFilter?: string;
  /** Herald's own events only: checked for tenant, not for loss. */
  readonly operational?: boolean;
  deadLetters: Set<string>;
  status: string;
}

export interface SubscriptionFigures {
  readonly name: string;
  readonly tenant: string;
  readonly behaviour: string;
  readonly status: string;
  /** Run events it should get: accepted or in Kafka, and matching its types and filter. */
  readonly expected: number;
  /** Distinct events answered 2xx. */
  readonly delivered: number;
  readonly deadLettered: number;
  /** Expected, neither delivered nor dead-lettered (must be 0 while it is active). */
  readonly missing: number;
  /** For a subscription the gateway disabled (410): expected events it never got after that. */
  readonly notDeliveredAfterDisable: number;
  readonly orderViolations: number;
  /** 2xx answers beyond the first for the same event. */
  readonly duplicates: number;
  readonly requests: number;
  /** Deliveries that should never have reached it (other subscription, type, tenant). */
  readonly crossTenant: number;
  readonly operationalEvents: number;
  readonly examples: string[];
}

export interface StreamFigures {
  readonly name: string;
  readonly transport: string;
  readonly tenant: string;
  readonly types: string;
  readonly expected: number;
  readonly received: number;
  readonly gaps: number;
  readonly repeats: number;
  /** Times it resumed from its cursor on a new connection. */
  readonly resumes: number;
  readonly crossTenant: number;
  readonly refused: string | undefined;
  /** Streams the server ended, by reason: `shutdown ×3, slow_consumer ×1`, or empty. */
  readonly ends: string;
  /** The final reason (key or subscription gone, paused, disabled) it was stopped for, if any. */
  readonly stoppedBy: string | undefined;
  readonly examples: string[];
}

export interface IngestFigures {
  readonly planned: number;
  readonly acceptedHttp: number;
  readonly acceptedSource: number;
  /** Given up on: refused, or never acknowledged within the retry budget. */
  readonly notAccepted: number;
  /** Their last answers: `401 ×3, no answer ×2`. */
  readonly notAcceptedAnswers: string;
  /** Accepted (202/200, or acknowledged by Kafka on the source topic) but not on the channel topic. */
  readonly acceptedNotInKafka: number;
  /**
   * Channel records of run events beyond one per id: a write retried after its acknowledgement
   * was lost, or the bridge redoing records after a crash (at least once).
   */
  readonly extraKafkaCopies: number;
}

/** Figures of the ingest side: what was accepted, and whether Kafka holds all of it. */
export function checkIngest(ledger: EventLedger, snapshot: KafkaSnapshot): IngestFigures {
  let acceptedHttp = 0;
  let acceptedSource = 0;
  let notAccepted = 0;
  let acceptedNotInKafka = 0;
  let extraKafkaCopies = 0;
  const answers = new Map<string, number>();
  for (const event of ledger.events) {
    const copies = snapshot.copies.get(event.id) ?? 0;
    extraKafkaCopies += Math.max(0, copies - 1);
    if (event.acceptedAt === 0) {
      notAccepted += 1;
      const answer =
        event.lastStatus === 0
          ? 'no answer'
          : event.lastStatus === -1
            ? 'Kafka error'
            : String(event.lastStatus);
      answers.set(answer, (answers.get(answer) ?? 0) + 1);
      continue;
    }
    if (event.route === 'http') acceptedHttp += 1;
    else acceptedSource += 1;
    if (copies === 0) acceptedNotInKafka += 1;
  }
  return {
    planned: ledger.events.length,
    acceptedHttp,
    acceptedSource,
    notAccepted,
    notAcceptedAnswers: [...answers].map(([answer, count]) => `${answer} ×${count}`).join(', '),
    acceptedNotInKafka,
    extraKafkaCopies,
  };
}

/** Ledger numbers per key in the order Kafka holds them (first copy of each id). */
export function keyOrder(ledger: EventLedger, snapshot: KafkaSnapshot): Map<number, number[]> {
  const order = new Map<number, number[]>();
  const seen = new Set<number>();
  for (const record of snapshot.records) {
    const n = ledger.numberOf(record.id);
    if (n === undefined || seen.has(n)) continue;
    seen.add(n);
    const keyIndex = ledger.events[n]!.keyIndex;
    let list = order.get(keyIndex);
    if (!list) order.set(keyIndex, (list = []));
    list.push(n);
  }
  return order;
}

function expects(
  subscription: CheckedSubscription,
  ledger: EventLedger,
  snapshot: KafkaSnapshot,
  n: number,
): boolean {
  const event = ledger.events[n]!;
  if (event.acceptedAt === 0 && !snapshot.copies.has(event.id)) return false;
  if (!subscription.receiver.matches(event.type)) return false;
  return subscription.kitchenFilter === undefined || event.kitchen === subscription.kitchenFilter;
}

/** Every figure of one webhook subscription. */
export function checkSubscription(
  subscription: CheckedSubscription,
  ledger: EventLedger,
  snapshot: KafkaSnapshot,
  order: ReadonlyMap<number, readonly number[]>,
): SubscriptionFigures {
  const { receiver } = subscription;
  const examples: string[] = [...receiver.misrouted.slice(0, 3)];
  const foreign = receiver.operational.filter((o) => o.tenant !== receiver.options.tenant);
  for (const o of foreign.slice(0, 3))
    examples.push(
      `${o.type} of tenant ${String(o.tenant)} (subscription ${String(o.subscriptionId)})`,
    );
  const base = {
    name: receiver.name,
    tenant: receiver.options.tenant,
    behaviour: receiver.options.behaviour,
    status: subscription.status,
    requests: receiver.requests,
    crossTenant: receiver.misrouted.length + foreign.length,
    operationalEvents: receiver.operational.length,
  };
  if (subscription.operational)
    return {
      ...base,
      expected: 0,
      delivered: 0,
      deadLettered: 0,
      missing: 0,
      notDeliveredAfterDisable: 0,
      orderViolations: 0,
      duplicates: 0,
      examples,
    };

  let expected = 0;
  let deadLettered = 0;
  let unsettled = 0;
  const dead = new Set<number>();
  for (const event of ledger.events) {
    if (!expects(subscription, ledger, snapshot, event.n)) continue;
    expected += 1;
    const isDead = subscription.deadLetters.has(event.id);
    if (isDead) {
      deadLettered += 1;
      dead.add(event.n);
    }
    if (!isDead && !receiver.firstSuccess.has(event.n)) {
      unsettled += 1;
      if (examples.length < 6 && subscription.status !== 'disabled')
        examples.push(`missing ${event.id} (${event.type}, key #${event.keyIndex})`);
    }
  }

  // Order per key: a request for an event must come after the first success of every earlier
  // event of its key (in Kafka order) that this subscription gets, unless that one was
  // dead-lettered. `latestBefore[n]` is the latest such success tick before n.
  const latestBefore = new Map<number, number>();
  for (const list of order.values()) {
    let latest = 0;
    for (const n of list) {
      if (!expects(subscription, ledger, snapshot, n)) continue;
      latestBefore.set(n, latest);
      if (!dead.has(n)) latest = Math.max(latest, receiver.firstSuccess.get(n) ?? 0);
    }
  }
  let orderViolations = 0;
  for (let i = 0; i < receiver.requestN.length; i++) {
    const n = receiver.requestN[i]!;
    const before = latestBefore.get(n) ?? 0;
    if (before > receiver.requestTick[i]!) {
      orderViolations += 1;
      if (examples.length < 8)
        examples.push(
          `order: ${ledger.events[n]!.id} sent before an earlier event of key #${ledger.events[n]!.keyIndex} succeeded`,
        );
    }
  }

  const disabled = subscription.status === 'disabled';
  return {
    ...base,
    expected,
    delivered: receiver.firstSuccess.size,
    deadLettered,
    missing: disabled ? 0 : unsettled,
    notDeliveredAfterDisable: disabled ? unsettled : 0,
    orderViolations,
    duplicates: receiver.runSuccesses - receiver.firstSuccess.size,
    examples,
  };
}

/** Gaps and repeats of one stream client against what Kafka holds for its types (and tenant). */
export function checkStream(client: StreamClient, snapshot: KafkaSnapshot): StreamFigures {
  const expectedCopies = new Map<string, number>();
  for (const record of snapshot.records) {
    if (!client.matches(record.type)) continue;
    if (record.type.startsWith('herald.') && record.tenant !== client.options.tenant) continue;
    expectedCopies.set(record.id, (expectedCopies.get(record.id) ?? 0) + 1);
  }
  let gaps = 0;
  let repeats = 0;
  const examples = [...client.outOfScope.slice(0, 3)];
  for (const [id, copies] of expectedCopies) {
    const got = client.counts.get(id) ?? 0;
    if (got < copies) {
      gaps += copies - got;
      if (examples.length < 6) examples.push(`gap: ${id}`);
    } else if (got > copies) {
      repeats += got - copies;
      if (examples.length < 6) examples.push(`repeat: ${id} ×${got}`);
    }
  }
  for (const [id, got] of client.counts) {
    if (expectedCopies.has(id) || client.outOfScopeIds.has(id)) continue;
    repeats += got;
    if (examples.length < 6) examples.push(`not in Kafka for it: ${id}`);
  }
  let expected = 0;
  for (const copies of expectedCopies.values()) expected += copies;
  return {
    name: client.name,
    transport: client.transport,
    tenant: client.options.tenant,
    types: client.options.types.join(','),
    expected,
    received: client.received,
    // One that was refused or stopped missed the rest for that reason, which is reported instead.
    gaps: client.refused === undefined && client.stoppedBy === undefined ? gaps : 0,
    repeats,
    resumes: Math.max(0, client.opens - 1),
    crossTenant: client.outOfScope.length,
    refused: client.refused,
    ends: [...client.ends].map(([reason, count]) => `${reason} ×${count}`).join(', '),
    stoppedBy: client.stoppedBy,
    examples,
  };
}

/** True once a subscription has nothing left unsettled (for the drain loop). */
export function settled(
  subscription: CheckedSubscription,
  ledger: EventLedger,
  snapshot: KafkaSnapshot,
): boolean {
  if (subscription.operational || subscription.receiver.isGone) return true;
  for (const event of ledger.events) {
    if (!expects(subscription, ledger, snapshot, event.n)) continue;
    if (!subscription.receiver.firstSuccess.has(event.n) && !subscription.deadLetters.has(event.id))
      return false;
  }
  return true;
}
