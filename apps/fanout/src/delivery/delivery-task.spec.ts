import { parseClaimedTask, serializeTask, type DeliveryTask } from './delivery-task';
import { parseSourceEvent } from './source-event';

function taskOf(value: Buffer, contentType?: string): DeliveryTask {
  const parsed = parseSourceEvent({
    topic: 'orders.v1',
    partition: 2,
    offset: '41',
    key: Buffer.from('o-1'),
    timestamp: '1700000000000',
    value,
    headers: {
      ce_specversion: Buffer.from('1.0'),
      ce_id: Buffer.from('evt-1'),
      ce_type: Buffer.from('order.created'),
      ce_source: Buffer.from('/orders'),
      ce_time: Buffer.from('2025-03-01T12:00:00.000Z'),
      ...(contentType ? { 'content-type': Buffer.from(contentType) } : {}),
    },
  });
  if (!parsed.ok) throw new Error(parsed.reason);
  return {
    subscriptionId: 'sub_1',
    source: parsed.source,
    attempt: 3,
    firstAttemptAt: '2025-03-01T12:00:01.000Z',
    origin: 'live',
    replayId: null,
    queueId: 'k.orders.v1.by0x',
    ordered: true,
    ticket: null,
    claim: null,
  };
}

function roundTrip(task: DeliveryTask): DeliveryTask | null {
  return parseClaimedTask({
    subscriptionId: task.subscriptionId,
    queueId: task.queueId,
    task: serializeTask(task),
    lease: 1,
  });
}

describe('parked tasks', () => {
  it('keep JSON data once, as the text it came as, and get it back exactly', () => {
    const text = '{"orderId":"o-1","amountMinor":9007199254740993}';
    const task = taskOf(Buffer.from(text));
    const stored = serializeTask(task);
    expect(stored.split('9007199254740993')).toHaveLength(2);
    const back = roundTrip(task);
    expect(back?.source.event.dataJson).toBe(text);
    expect(back?.source.event.data).toEqual(JSON.parse(text));
    expect(back).toMatchObject({ attempt: 3, queueId: task.queueId, ordered: true });
  });

  it('keep binary data as base64', () => {
    const task = taskOf(Buffer.from([0, 1, 2, 250]), 'application/octet-stream');
    const back = roundTrip(task);
    expect(back?.source.event.data).toEqual(new Uint8Array([0, 1, 2, 250]));
    expect(back?.source.event.dataJson).toBeUndefined();
  });

  it('keep the event time, and work it out for a task parked before they carried it', () => {
    const task = taskOf(Buffer.from('{"a":1}'));
    expect(roundTrip(task)?.source.eventTimeMs).toBe(Date.parse('2025-03-01T12:00:00.000Z'));
    const older = JSON.parse(serializeTask(task)) as { source: Record<string, unknown> };
    delete older.source['eventTimeMs'];
    const back = parseClaimedTask({
      subscriptionId: 'sub_1',
      queueId: 'q',
      task: JSON.stringify(older),
      lease: 1,
    });
    expect(back?.source.eventTimeMs).toBe(Date.parse('2025-03-01T12:00:00.000Z'));
    expect(back?.source.event.data).toEqual({ a: 1 });
  });

  it('drop a stored task whose JSON text is broken rather than deliver it', () => {
    const task = taskOf(Buffer.from('{"a":1}'));
    const stored = serializeTask(task).replace('{\\"a\\":1}', '{\\"a\\":');
    expect(
      parseClaimedTask({ subscriptionId: 'sub_1', queueId: 'q', task: stored, lease: 1 }),
    ).toBe(null);
  });
});
