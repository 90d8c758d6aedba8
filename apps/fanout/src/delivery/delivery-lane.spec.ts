import type { ClaimedTask, ParkOutcome } from '@herald/store';
import {
  DeliveryLane,
  type LaneIo,
  type LaneSettings,
  type SpillReason,
  type TaskResult,
} from './delivery-lane';
import type { DeliveryTask } from './delivery-task';
import { fixedLimit, SendBudget, type SendPermit } from './send-budget';

function fakeIo() {
  const sent: DeliveryTask[] = [];
  const permits: SendPermit[] = [];
  const parked: { id: string; mode: string; dueMs: number }[] = [];
  const timers: { at: number; run: () => void; cancelled: boolean }[] = [];
  const finishedCopies: { claim: ClaimedTask; id: string; result: TaskResult }[] = [];
  const spills: number[] = [];
  const spillReasons: SpillReason[] = [];
  const unmeasured: number[] = [];
  let busyShare = 0.5;
  let now = 0;
  /** Time this process could not run (its event loop blocked): not on the running clock. */
  let blocked = 0;
  let parkAnswer: (task: DeliveryTask, mode: 'create' | 'append') => ParkOutcome = (_t, mode) =>
    mode === 'create' ? 'parked' : 'queued';
  const io: LaneIo = {
    send: (task, permit) => {
      sent.push(task);
      permits.push(permit);
    },
    park: (task, mode, dueMs) => {
      parked.push({ id: task.source.event.id, mode, dueMs });
      return Promise.resolve(parkAnswer(task, mode));
    },
    now: () => now,
    runningNow: () => now - blocked,
    loopBusyShare: () => busyShare,
    paceUnmeasured: (share) => unmeasured.push(share),
    schedule: (delayMs, run) => {
      const timer = { at: now + delayMs, run, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
    parkFailed: () => undefined,
    ownerRefused: () => undefined,
    inFlightLeaseMs: 35_000,
    finishSpilled: (claim, task, result) => {
      finishedCopies.push({ claim, id: task.source.event.id, result });
      return Promise.resolve();
    },
    spilled: (count, reason) => {
      spills.push(count);
      spillReasons.push(reason);
    },
  };
  return {
    io,
    sent,
    permits,
    parked,
    finishedCopies,
    spills,
    spillReasons,
    unmeasured,
    /** How busy this process's event loop has been over the last second (0 to 1). */
    loopBusy(share: number) {
      busyShare = share;
    },
    /** Time passes with the event loop blocked (timers fire only at the next `advance`). */
    block(ms: number) {
      now += ms;
      blocked += ms;
    },
    advance(ms: number) {
      now += ms;
      for (const timer of timers.splice(0)) {
        if (timer.cancelled) continue;
        if (timer.at <= now) timer.run();
        else timers.push(timer);
      }
    },
    answerParks(answer: typeof parkAnswer) {
      parkAnswer = answer;
    },
  };
}

/** A lane of one slot whose pace decides (4 held in memory at most past it, 10 s to drain). */
function paceLane() {
  const fake = fakeIo();
  const lane = new DeliveryLane(
    'sub_1',
    { maxInFlight: 1, maxPerSecond: null, spillAt: 4, stallMs: 1000, drainLimitMs: 10_000 },
    fake.io,
  );
  return { fake, lane };
}

/** The endpoint answers the lane's attempts `from` to `to` (excluded), one every `everyMs`. */
function answerInTurn(
  fake: ReturnType<typeof fakeIo>,
  lane: DeliveryLane,
  from: number,
  to: number,
  everyMs: number,
): void {
  for (let i = from; i < to; i++) {
    fake.advance(everyMs);
    lane.finished(fake.sent[i]!, { kind: 'settled' });
  }
}

const settled: string[] = [];
function task(id: string, key: string | null, offset = 0): DeliveryTask {
  return {
    subscriptionId: 'sub_1',
    source: {
      topic: 't',
      partition: 0,
      offset,
      key,
      timestampMs: 0,
      eventTimeMs: 0,
      event: { id, type: 'order.created', source: '/x', time: '2025-01-01T00:00:00Z', data: {} },
      tenant: null,
    },
    attempt: 1,
    firstAttemptAt: null,
    origin: 'live',
    replayId: null,
    queueId: key === null ? `t.${id}` : `k.t.${key}`,
    ordered: key !== null,
    ticket: { settle: () => settled.push(id), current: true, owner: null },
    claim: null,
  };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const settings: LaneSettings = {
  maxInFlight: 2,
  maxPerSecond: null,
  spillAt: 100,
  stallMs: 1000,
};

describe('DeliveryLane', () => {
  beforeEach(() => {
    settled.length = 0;
  });

  it('keeps at most maxInFlight requests and only the head of each key in flight', () => {
    const { io, sent } = fakeIo();
    const lane = new DeliveryLane('sub_1', { ...settings, maxInFlight: 3 }, io);
    const [a1, a2, b1, c1] = [task('a1', 'a'), task('a2', 'a'), task('b1', 'b'), task('c1', 'c')];
    for (const t of [a1, a2, b1, c1]) lane.enqueue(t);
    expect(sent.map((t) => t.source.event.id)).toEqual(['a1', 'b1', 'c1']);
    lane.finished(b1, { kind: 'settled' });
    expect(sent).toHaveLength(3); // a2 still waits for a1
    lane.finished(a1, { kind: 'settled' });
    expect(sent.map((t) => t.source.event.id)).toEqual(['a1', 'b1', 'c1', 'a2']);
    expect(settled).toEqual(['b1', 'a1']);
  });

  it('shares the instance send budget with other lanes, taking turns for freed slots', () => {
    const budget = new SendBudget({ limit: fixedLimit(3), slowAfterMs: 60_000, now: () => 0 });
    const sent: { lane: string; task: DeliveryTask; permit: SendPermit }[] = [];
    const lanes = ['A', 'B'].map((name) => {
      const fake = fakeIo();
      const io: LaneIo = {
        ...fake.io,
        send: (t, permit) => sent.push({ lane: name, task: t, permit }),
      };
      return new DeliveryLane(`sub_${name}`, { ...settings, maxInFlight: 10 }, io, budget);
    });
    const [laneA, laneB] = lanes as [DeliveryLane, DeliveryLane];
    for (let i = 0; i < 6; i++) laneA.enqueue(task(`a${i}`, null));
    for (let i = 0; i < 6; i++) laneB.enqueue(task(`b${i}`, null));
    // A took the whole budget; both wait for more, B although its own limit allows ten
    expect(sent.map((s) => s.lane)).toEqual(['A', 'A', 'A']);
    expect(budget.waiting).toBe(2);
    const finish = (index: number) => {
      const done = sent[index]!;
      done.permit.release();
      (done.lane === 'A' ? laneA : laneB).finished(done.task, { kind: 'settled' });
    };
    // freed slots alternate between the lanes that want them
    finish(0);
    finish(1);
    finish(2);
    expect(sent.slice(3).map((s) => s.lane)).toEqual(['A', 'B', 'A']);
    expect(budget.inFlight).toBe(3);
    // a closed lane gives up its turn: A sends its last task, and nobody waits any more
    laneB.close();
    finish(3);
    finish(5);
    expect(sent.slice(6).map((s) => s.task.source.event.id)).toEqual(['a5']);
    expect(budget.waiting).toBe(0);
    budget.close();
  });

  it('retries a head in memory while the rest of its key waits', () => {
    const fake = fakeIo();
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    const [a1, a2] = [task('a1', 'a'), task('a2', 'a')];
    lane.enqueue(a1);
    lane.enqueue(a2);
    lane.finished(a1, { kind: 'retry', delayMs: 100 });
    fake.advance(50);
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1']);
    fake.advance(50);
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1', 'a1']);
    lane.finished(a1, { kind: 'settled' });
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1', 'a1', 'a2']);
  });

  it('parks a key with everything behind it, in order, and later tasks join the parked queue', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    const [a1, a2, a3, b1] = [task('a1', 'a'), task('a2', 'a'), task('a3', 'a'), task('b1', 'b')];
    lane.enqueue(a1);
    lane.enqueue(a2);
    lane.enqueue(b1);
    lane.finished(a1, { kind: 'park', dueMs: 5000 });
    lane.enqueue(a3);
    await flush();
    expect(fake.parked).toEqual([
      { id: 'a1', mode: 'create', dueMs: 5000 },
      { id: 'a2', mode: 'create', dueMs: 5000 },
      { id: 'a3', mode: 'append', dueMs: 0 },
    ]);
    expect(settled).toEqual(['a1', 'a2', 'a3']);
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1', 'b1']);
    expect(lane.size).toBe(1);
  });

  it('takes a key back into memory once its parked queue has drained', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    lane.markParked('k.t.a', 't', 0);
    fake.answerParks(() => 'no-queue');
    const [a1, a2] = [task('a1', 'a'), task('a2', 'a')];
    lane.enqueue(a1);
    lane.enqueue(a2);
    await flush();
    expect(fake.parked.map((p) => p.mode)).toEqual(['append', 'append']);
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1']);
    lane.finished(a1, { kind: 'settled' });
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1', 'a2']);
    const a3 = task('a3', 'a');
    lane.enqueue(a3); // no longer parked: straight behind a2 in memory
    expect(fake.parked).toHaveLength(2);
  });

  it('parks what it holds, and new work, once too much is in memory and the endpoint has stalled', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 1, maxPerSecond: null, spillAt: 2, stallMs: 1000 },
      fake.io,
    );
    for (const t of [task('u1', null), task('u2', null), task('u3', null)]) lane.enqueue(t);
    // Over the bound but progressing: kept in memory.
    expect(fake.parked).toEqual([]);
    fake.advance(999);
    expect(fake.parked).toEqual([]);
    fake.advance(1);
    // A second without an answer: what waits in memory is parked, only u1 (in flight) stays.
    await flush();
    expect(fake.parked.map((p) => p.id)).toEqual(['u2', 'u3']);
    expect(fake.spills).toEqual([2]);
    expect(fake.spillReasons).toEqual(['silent']);
    expect(lane.size).toBe(1);
    // New work is parked too, however little is held, until an attempt is delivered.
    for (const t of [task('u4', null), task('k1', 'k')]) lane.enqueue(t);
    await flush();
    expect(fake.parked.map((p) => p.id)).toEqual(['u2', 'u3', 'u4', 'k1']);
    expect(settled).toEqual(['u2', 'u3', 'u4', 'k1']);
    lane.finished(fake.sent[0]!, { kind: 'retry', delayMs: 100 });
    lane.enqueue(task('u5', null));
    expect(fake.parked).toHaveLength(5);
    fake.advance(100);
    // Failed for good (dead-lettered, say): the endpoint still does not answer.
    lane.finished(fake.sent[1]!, { kind: 'settled' });
    lane.enqueue(task('u6', null));
    expect(fake.parked).toHaveLength(6);
    // Delivered (a parked task claimed, say): new work stays in memory again.
    lane.delivered();
    lane.enqueue(task('u7', null));
    expect(fake.parked).toHaveLength(6);
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['u1', 'u1', 'u7']);
  });

  it('does not take a spell in which this process could not run for its endpoint’s silence', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 1, maxPerSecond: null, spillAt: 2, stallMs: 1000 },
      fake.io,
    );
    for (const t of [task('u1', null), task('u2', null), task('u3', null)]) lane.enqueue(t);
    // 1.5 s in which this process read nothing (a long batch, say): the answer may be waiting.
    fake.block(1500);
    lane.enqueue(task('u4', null));
    fake.advance(0);
    await flush();
    expect(fake.parked).toEqual([]);
    expect(fake.spills).toEqual([]);
    // A second of its own without an answer is a stall.
    fake.advance(1000);
    await flush();
    expect(fake.parked.map((p) => p.id)).toEqual(['u2', 'u3', 'u4']);
    expect(fake.spills).toEqual([3]);
    expect(fake.spillReasons).toEqual(['silent']);
    expect(lane.size).toBe(1);
  });

  it('parks a stalled key behind a claimed copy of its head in flight, which the head’s result then finishes', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 1, maxPerSecond: null, spillAt: 3, stallMs: 1000 },
      fake.io,
    );
    const [a1, a2, a3, b1, b2] = [
      task('a1', 'a'),
      task('a2', 'a'),
      task('a3', 'a'),
      task('b1', 'b'),
      task('b2', 'b'),
    ];
    for (const t of [a1, a2, a3, b1, b2]) lane.enqueue(t);
    expect(fake.sent).toEqual([a1]);
    fake.advance(1000);
    await flush();
    // Key b (its head waiting) is parked whole; key a behind a copy of a1, due when the lease
    // ends, its rest appended.
    const ofKey = (key: string) => fake.parked.filter((p) => p.id.startsWith(key));
    expect(ofKey('b')).toEqual([
      { id: 'b1', mode: 'create', dueMs: 1000 },
      { id: 'b2', mode: 'create', dueMs: 1000 },
    ]);
    expect(ofKey('a')).toEqual([
      { id: 'a1', mode: 'create', dueMs: 36_000 },
      { id: 'a2', mode: 'append', dueMs: 1000 },
      { id: 'a3', mode: 'append', dueMs: 1000 },
    ]);
    expect(settled.sort()).toEqual(['a1', 'a2', 'a3', 'b1', 'b2']);
    // Later work of key a joins the parked queue.
    lane.enqueue(task('a4', 'a'));
    await flush();
    expect(fake.parked.at(-1)).toEqual({ id: 'a4', mode: 'append', dueMs: 1000 });
    // a1's attempt fails and would wait: its copy takes the retry, nothing is sent from memory.
    lane.finished(a1, { kind: 'park', dueMs: 9000 });
    await flush();
    expect(fake.finishedCopies).toEqual([
      {
        claim: { subscriptionId: 'sub_1', queueId: 'k.t.a', task: '', lease: 36_000 },
        id: 'a1',
        result: { kind: 'park', dueMs: 9000 },
      },
    ]);
    expect(fake.sent).toEqual([a1]);
    expect(lane.size).toBe(0);
    // a1 was settled once, when its copy was parked.
    expect(settled.filter((id) => id === 'a1')).toHaveLength(1);
  });

  it('sends a spilled head’s result through its own task when its copy could not be parked', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 1, maxPerSecond: null, spillAt: 2, stallMs: 1000 },
      fake.io,
    );
    const [a1, a2] = [task('a1', 'a'), task('a2', 'a')];
    for (const t of [a1, a2]) lane.enqueue(t);
    // The partition moved meanwhile: no park goes through.
    for (const t of [a1, a2]) (t.ticket as { current: boolean }).current = false;
    fake.answerParks(() => 'not-owner');
    fake.advance(1000);
    await flush();
    expect(settled).toEqual([]);
    lane.finished(a1, { kind: 'settled' });
    await flush();
    expect(fake.finishedCopies).toEqual([]);
    // Delivered: settled by its own result; a2 is left for the partition's new owner.
    expect(settled).toEqual(['a1']);
    expect(fake.sent).toEqual([a1]);
  });

  it('parks new work once it holds more than it would send within the drain limit at its pace, though progressing', async () => {
    const { fake, lane } = paceLane();
    for (let i = 0; i < 8; i++) lane.enqueue(task(`u${i}`, null));
    // A slow endpoint: one answer every 600 ms, so never a second without progress.
    answerInTurn(fake, lane, 0, 2, 600);
    // One window (2 in 1.2 s) is no pace yet: a slow second may be a start-up's.
    for (let i = 8; i < 22; i++) lane.enqueue(task(`u${i}`, null));
    expect(fake.parked).toEqual([]);
    answerInTurn(fake, lane, 2, 4, 600);
    // Two in a row: its pace is 2 in 1.2 s, and it holds 18, more than the 16.7 it would send
    // within 10 s. What it holds stays (no new work came); new work is parked.
    lane.enqueue(task('u22', null));
    lane.enqueue(task('u23', null));
    await flush();
    expect(lane.size).toBe(18);
    expect(fake.parked.map((p) => p.id)).toEqual(['u22', 'u23']);
  });

  it('parks what it holds past its pace, newest first, when no new work comes (its partitions paused)', async () => {
    const { fake, lane } = paceLane();
    for (let i = 0; i < 30; i++) lane.enqueue(task(`u${i}`, null));
    // One answer every 600 ms: never a second without progress, but 2 in 1.2 s, twice in a row.
    answerInTurn(fake, lane, 0, 4, 600);
    expect(fake.parked).toEqual([]);
    // The watch (a second after the last answer but one) finds it holding 26, more than the
    // 16.7 it sends in 10 s: the newest go.
    fake.advance(400);
    await flush();
    expect(lane.size).toBe(16);
    expect(fake.parked.map((p) => p.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `u${29 - i}`),
    );
    expect(fake.spills).toEqual([10]);
    expect(fake.spillReasons).toEqual(['pace']);
  });

  it('keeps only its memory’s bound while it holds back a partition the others are done with, though it would drain more within the drain limit', async () => {
    const { fake, lane } = paceLane();
    for (let i = 0; i < 20; i++) lane.enqueue(task(`u${i}`, null));
    // One answer every 300 ms, two windows in a row: it sends 33 in 10 s and holds 12.
    answerInTurn(fake, lane, 0, 8, 300);
    await flush();
    expect(fake.parked).toEqual([]);
    expect(lane.size).toBe(12);
    // Its partitions paused at their backlog bound, the other subscriptions done with them: it
    // keeps 4 and parks the newest.
    lane.holdsBackPartition();
    await flush();
    expect(lane.size).toBe(4);
    expect(fake.parked.map((p) => p.id)).toEqual(Array.from({ length: 8 }, (_, i) => `u${19 - i}`));
    expect(fake.spills).toEqual([8]);
    expect(fake.spillReasons).toEqual(['held_back']);
    // New work past the bound is parked while it is behind.
    lane.enqueue(task('u20', null));
    lane.enqueue(task('u21', null));
    await flush();
    expect(fake.parked.map((p) => p.id)).toEqual(expect.arrayContaining(['u21']));
    expect(fake.parked.map((p) => p.id)).not.toContain('u20');
    // It drains what it holds; once it has held no more than its bound for the drain limit, it
    // keeps what its pace sends in time in memory again.
    answerInTurn(fake, lane, 8, 13, 300);
    expect(lane.size).toBe(0);
    fake.advance(10_000);
    for (let i = 22; i < 32; i++) lane.enqueue(task(`u${i}`, null));
    await flush();
    expect(fake.parked.map((p) => p.id)).not.toContain('u31');
    expect(lane.size).toBe(10);
  });

  it('keeps its work in memory when told it holds back a partition while this process is the bound', async () => {
    const { fake, lane } = paceLane();
    for (let i = 0; i < 20; i++) lane.enqueue(task(`u${i}`, null));
    answerInTurn(fake, lane, 0, 8, 300);
    // Every lane is as behind as this process makes it: parking would only add Redis round trips.
    fake.loopBusy(0.97);
    lane.holdsBackPartition();
    // The watch looks again as it answers on.
    answerInTurn(fake, lane, 8, 11, 300);
    fake.advance(200);
    await flush();
    expect(fake.parked).toEqual([]);
    expect(lane.size).toBe(9);
  });

  it('judges a failing endpoint on one window, however busy this process is', async () => {
    const { fake, lane } = paceLane();
    fake.loopBusy(0.97);
    for (let i = 0; i < 30; i++) lane.enqueue(task(`u${i}`, null));
    // Its first attempt fails and is retried in memory; the retry succeeds: one task settled in
    // 1.2 s, with a failure in the window.
    fake.advance(600);
    lane.finished(fake.sent[0]!, { kind: 'retry', delayMs: 100 });
    fake.advance(600);
    lane.finished(fake.sent[1]!, { kind: 'settled' });
    expect(fake.unmeasured).toEqual([]);
    // At that pace it sends 8.3 tasks in 10 s and holds 29: new work is parked.
    lane.enqueue(task('u30', null));
    await flush();
    expect(fake.parked.map((p) => p.id)).toContain('u30');
  });

  it('takes no pace from one slow window (a start-up’s): a busy lane’s work stays in memory', async () => {
    const { fake, lane } = paceLane();
    for (let i = 0; i < 30; i++) lane.enqueue(task(`u${i}`, null));
    // Its first answers are slow (connections being made, this process reading ahead), then
    // come ten times as fast.
    answerInTurn(fake, lane, 0, 2, 600);
    answerInTurn(fake, lane, 2, 14, 100);
    for (let i = 30; i < 40; i++) lane.enqueue(task(`u${i}`, null));
    fake.advance(400);
    await flush();
    // At its better pace (10 a second) it sends what it holds (26) within 10 s: nothing parked.
    expect(fake.parked).toEqual([]);
    expect(lane.size).toBe(26);
  });

  it('takes no pace while this process is the bound (its event loop saturated): its work stays in memory', async () => {
    const { fake, lane } = paceLane();
    for (let i = 0; i < 6; i++) lane.enqueue(task(`u${i}`, null));
    // Answers come as slowly as in the test above, but the event loop was busy 97 % of the
    // time: every slot full while answers wait to be read, whatever the endpoint takes.
    fake.loopBusy(0.97);
    answerInTurn(fake, lane, 0, 2, 600);
    for (let i = 6; i < 40; i++) lane.enqueue(task(`u${i}`, null));
    // The watch, a second after the last answer but one, finds no pace to park for either.
    fake.advance(400);
    await flush();
    expect(fake.parked).toEqual([]);
    expect(lane.size).toBe(38);
    expect(fake.unmeasured).toEqual([0.97]);
    // Once the loop has time to spare again, two windows at that pace count: new work is parked.
    fake.loopBusy(0.6);
    answerInTurn(fake, lane, 2, 6, 500);
    lane.enqueue(task('u40', null));
    await flush();
    expect(fake.parked.map((p) => p.id)).toContain('u40');
    // That pace says nothing once the loop is saturated again: new work stays in memory.
    fake.loopBusy(0.95);
    const held = lane.size;
    lane.enqueue(task('u41', null));
    await flush();
    expect(fake.parked.map((p) => p.id)).not.toContain('u41');
    expect(lane.size).toBe(held + 1);
  });

  it('keeps work in memory when its pace is its origin’s shared limit, not its own', async () => {
    const fake = fakeIo();
    // Ten slots of its own, but one for the whole origin: as behind as every lane sending there.
    const budget = new SendBudget({ limit: fixedLimit(1), slowAfterMs: 60_000, now: () => 0 });
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 10, maxPerSecond: null, spillAt: 4, stallMs: 1000, drainLimitMs: 10_000 },
      fake.io,
      budget,
    );
    for (let i = 0; i < 6; i++) lane.enqueue(task(`u${i}`, null));
    for (let i = 0; i < 2; i++) {
      fake.advance(600);
      const [sent] = fake.sent.slice(-1);
      fake.permits.shift()?.release();
      lane.finished(sent!, { kind: 'settled' });
    }
    for (let i = 6; i < 40; i++) lane.enqueue(task(`u${i}`, null));
    await flush();
    expect(fake.parked).toEqual([]);
  });

  it('does not take a quiet lane’s pace for what its endpoint can take: a burst stays in memory', async () => {
    const { fake, lane } = paceLane();
    // One event every 600 ms, each answered at once: a pace of its traffic only.
    for (let i = 0; i < 4; i++) {
      lane.enqueue(task(`q${i}`, null));
      fake.advance(600);
      lane.finished(fake.sent[i]!, { kind: 'settled' });
    }
    for (let i = 0; i < 40; i++) lane.enqueue(task(`b${i}`, null));
    await flush();
    expect(fake.parked).toEqual([]);
  });

  it('never parks for a partition it lost, and forgets that partition’s tasks', async () => {
    const fake = fakeIo();
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    const [a1, a2, b1] = [task('a1', 'a'), task('a2', 'a'), task('b1', 'b')];
    lane.enqueue(a1);
    lane.enqueue(a2);
    lane.enqueue(b1);
    lane.dropPartition('t', 0);
    lane.finished(a1, { kind: 'abandoned' });
    lane.finished(b1, { kind: 'abandoned' });
    await flush();
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1', 'b1']);
    expect(settled).toEqual([]);
    expect(lane.size).toBe(0);
  });

  it('spreads requests to maxPerSecond', () => {
    const fake = fakeIo();
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 10, maxPerSecond: 2, spillAt: 100, stallMs: 1000 },
      fake.io,
    );
    for (let i = 0; i < 4; i++) lane.enqueue(task(`u${i}`, null));
    expect(fake.sent).toHaveLength(2);
    fake.advance(500);
    expect(fake.sent).toHaveLength(3);
    fake.advance(500);
    expect(fake.sent).toHaveLength(4);
  });

  it('takes a changed maxPerSecond at once: a wait worked out at the old rate ends', () => {
    const fake = fakeIo();
    const slow = { maxInFlight: 10, maxPerSecond: 1, spillAt: 100, stallMs: 1000 };
    const lane = new DeliveryLane('sub_1', slow, fake.io);
    for (let i = 0; i < 4; i++) lane.enqueue(task(`u${i}`, null));
    // One a second: the first goes, the next waits a second.
    expect(fake.sent).toHaveLength(1);
    lane.update({ ...slow, maxPerSecond: 2 });
    expect(fake.sent).toHaveLength(3);
    fake.advance(500);
    expect(fake.sent).toHaveLength(4);
    // And lifting the limit lets everything go.
    for (let i = 4; i < 8; i++) lane.enqueue(task(`u${i}`, null));
    lane.update({ ...slow, maxPerSecond: null });
    expect(fake.sent).toHaveLength(8);
  });

  it('settles what it holds when closed and hands back claimed tasks', () => {
    const fake = fakeIo();
    const lane = new DeliveryLane('sub_1', { ...settings, maxInFlight: 1 }, fake.io);
    const [a1, a2, u1] = [task('a1', 'a'), task('a2', 'a'), task('u1', null)];
    const claimed = {
      ...task('c1', null),
      ticket: null,
      claim: { subscriptionId: 'sub_1', queueId: 'q', task: '', lease: 1 },
    };
    lane.enqueue(a1);
    lane.enqueue(a2);
    lane.enqueue(u1);
    lane.enqueueClaimed(claimed);
    expect(lane.close()).toEqual([claimed]);
    expect(settled.sort()).toEqual(['a2', 'u1']);
    lane.finished(a1, { kind: 'settled' });
    expect(settled).toContain('a1');
  });

  it('never drops a task of a parked key whose queue drained while the key was being parked', async () => {
    const fake = fakeIo();
    const stored: string[] = [];
    // The head's queue is claimed and delivered at once: joining it finds none.
    fake.answerParks((t, mode) => {
      if (mode === 'append') return 'no-queue';
      stored.push(t.source.event.id);
      return 'parked';
    });
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    const [a1, a2] = [task('a1', 'a'), task('a2', 'a')];
    lane.enqueue(a1);
    lane.enqueue(a2);
    lane.finished(a1, { kind: 'park', dueMs: 5000 });
    await flush();
    // Every task settled was stored somewhere first.
    expect(stored).toEqual(['a1', 'a2']);
    expect(settled).toEqual(['a1', 'a2']);
  });

  it('settles each task once when closed while a park of its key still waits its turn', async () => {
    const releases: ((outcome: ParkOutcome) => void)[] = [];
    const fake = fakeIo();
    const io: LaneIo = {
      ...fake.io,
      park: () => new Promise<ParkOutcome>((resolve) => releases.push(resolve)),
    };
    const lane = new DeliveryLane('sub_1', settings, io);
    lane.markParked('k.t.a', 't', 0);
    const [a1, a2] = [task('a1', 'a'), task('a2', 'a')];
    lane.enqueue(a1); // joins the parked queue: park #1 under way
    lane.enqueue(a2); // park #2 waits behind it
    await flush();
    releases.shift()!('no-queue'); // the parked queue had drained: a1 comes back and is sent
    await flush();
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['a1']);
    // a1 must wait long: its key is parked again, behind park #2 still under way.
    lane.finished(a1, { kind: 'park', dueMs: 5000 });
    lane.close();
    expect(settled).toEqual(['a1']);
    releases.shift()!('no-queue');
    await flush();
    while (releases.length > 0) {
      releases.shift()!('parked');
      await flush();
    }
    expect(settled.sort()).toEqual(['a1', 'a2']);
  });

  it('takes no more parked work than its rate limit can start within the claim window', () => {
    const fake = fakeIo();
    const lane = new DeliveryLane(
      'sub_1',
      { maxInFlight: 16, maxPerSecond: 0.5, spillAt: 100, stallMs: 1000 },
      fake.io,
    );
    expect(lane.capacity(17_500)).toBe(8);
    const claimed = (id: string) => ({
      ...task(id, null),
      ticket: null,
      claim: { subscriptionId: 'sub_1', queueId: id, task: '', lease: 1 },
    });
    for (const id of ['c1', 'c2', 'c3']) lane.enqueueClaimed(claimed(id));
    // c1 went out at once on the burst token; c2 and c3 wait for tokens.
    expect(lane.capacity(17_500)).toBe(6);
    expect(new DeliveryLane('sub_2', settings, fake.io).capacity(17_500)).toBe(2);
  });

  it('parks again, not drops, a task Redis refuses while this instance still holds its partition', async () => {
    const fake = fakeIo();
    let refusals = 1;
    fake.answerParks(() => (refusals-- > 0 ? 'not-owner' : 'parked'));
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    const a1 = task('a1', 'a');
    lane.enqueue(a1);
    lane.finished(a1, { kind: 'park', dueMs: 5000 });
    await flush();
    expect(settled).toEqual([]);
    fake.advance(500);
    await flush();
    expect(fake.parked.map((p) => p.id)).toEqual(['a1', 'a1']);
    expect(settled).toEqual(['a1']);
  });

  it('settles, and does not send, tasks whose park finds their subscription deleted', async () => {
    const fake = fakeIo();
    fake.answerParks(() => 'no-subscription');
    const lane = new DeliveryLane('sub_1', settings, fake.io);
    lane.markParked('k.t.a', 't', 0);
    const [a1, u1] = [task('a1', 'a'), task('u1', null)];
    lane.enqueue(a1); // joins its key's parked queue
    lane.enqueue(u1);
    lane.finished(u1, { kind: 'park', dueMs: 5000 }); // parked alone
    await flush();
    expect(fake.parked.map((p) => `${p.id} ${p.mode}`).sort()).toEqual(['a1 append', 'u1 create']);
    // Done for the offsets (nothing to deliver to a deleted subscription), not taken back.
    expect([...settled].sort()).toEqual(['a1', 'u1']);
    expect(fake.sent.map((t) => t.source.event.id)).toEqual(['u1']);
    expect(lane.size).toBe(0);
  });

  it('hands work back unsettled when closed for a shutdown', () => {
    const fake = fakeIo();
    const lane = new DeliveryLane('sub_1', { ...settings, maxInFlight: 2 }, fake.io);
    const [a1, a2, b1, u1] = [task('a1', 'a'), task('a2', 'a'), task('b1', 'b'), task('u1', null)];
    for (const t of [a1, a2, b1, u1]) lane.enqueue(t);
    lane.close('hand-back');
    lane.finished(a1, { kind: 'settled' });
    lane.finished(b1, { kind: 'retry', delayMs: 10 });
    expect(settled).toEqual(['a1']);
  });
});
