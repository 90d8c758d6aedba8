import { checkSubscription, keyOrder, type CheckedSubscription } from './delivery-checker';
import { EventLedger } from './event-ledger';
import type { KafkaSnapshot } from './kafka-snapshot';
import { ArrivalClock, WebhookReceiver } from './webhook-receivers';

/** Six events on two keys (0, 2, 4 on key 0; 1, 3, 5 on key 1), all accepted and in Kafka. */
function world() {
  const ledger = new EventLedger('run', 2, 2);
  for (let i = 0; i < 6; i++) ledger.plan().acceptedAt = 1;
  const snapshot = {
    copies: new Map(ledger.events.map((e) => [e.id, 1])),
    records: ledger.events.map((e) => ({
      topic: 'orders.v1',
      partition: e.keyIndex,
      id: e.id,
      type: e.type,
      tenant: undefined,
    })),
  } as unknown as KafkaSnapshot;
  const receiver = new WebhookReceiver({
    name: 'r',
    tenant: 'acme',
    types: ['order.*'],
    behaviour: 'fast',
    ledger,
    clock: new ArrivalClock(),
  });
  const subscription: CheckedSubscription = {
    receiver,
    deadLetters: new Set(),
    status: 'active',
  };
  let tick = 0;
  /** A request for event n arriving now; `ok` answers it 2xx right away. */
  const request = (n: number, ok = true) => {
    receiver.requestN.push(n);
    receiver.requestTick.push(++tick);
    if (ok) {
      receiver.runSuccesses += 1;
      if (!receiver.firstSuccess.has(n)) receiver.firstSuccess.set(n, ++tick);
    }
  };
  const check = () => checkSubscription(subscription, ledger, snapshot, keyOrder(ledger, snapshot));
  return { ledger, subscription, request, check };
}

describe('checkSubscription', () => {
  it('passes in-order delivery with a redelivery after a crash, counting the duplicate', () => {
    const { request, check } = world();
    for (const n of [0, 1, 2, 3]) request(n);
    for (const n of [2, 3, 4, 5]) request(n);
    expect(check()).toMatchObject({ missing: 0, orderViolations: 0, duplicates: 2, delivered: 6 });
  });

  it('flags an event sent while an earlier one of its key had not succeeded', () => {
    const { request, check } = world();
    request(0);
    request(2, false); // fails; must be retried before 4 goes out
    request(4);
    request(2);
    for (const n of [1, 3, 5]) request(n);
    expect(check()).toMatchObject({ missing: 0, orderViolations: 1 });
  });

  it('excuses an earlier event that was dead-lettered, and counts one never settled as missing', () => {
    const { ledger, subscription, request, check } = world();
    request(0);
    request(2, false);
    request(4);
    subscription.deadLetters.add(ledger.events[2]!.id);
    request(1);
    request(5);
    expect(check()).toMatchObject({ missing: 1, orderViolations: 0, deadLettered: 1 });
  });
});
