import { AckWriter, type AckResult } from './ack-writer';

/** A write that settles when the test says so, as a Redis that holds it would. */
function heldWrites() {
  const started: { cursor: string; answer(): void; fail(error: Error): void }[] = [];
  const write = (cursor: string) =>
    new Promise<void>((answer, fail) => started.push({ cursor, answer, fail }));
  return { started, write };
}

const turn = () => new Promise((done) => setImmediate(done));

/** Records when each of `acks` settles, in order. */
function settlements(acks: { done: Promise<AckResult> }[]) {
  const order: string[] = [];
  acks.forEach((ack, i) => {
    ack.done.then(
      (result) => order.push(`${i}:${result.outcome}:${result.stored}`),
      (error: Error) => order.push(`${i}:failed:${error.message}`),
    );
  });
  return order;
}

describe('AckWriter', () => {
  it('writes one ack at a time; of those that come meanwhile only the newest is written next, and its write answers the others', async () => {
    const { started, write } = heldWrites();
    const writer = new AckWriter(write);
    const first = writer.acknowledge('c1');
    const flood = Array.from({ length: 1000 }, (_, i) => writer.acknowledge(`c${i + 2}`));
    const order = settlements(flood);
    await turn();
    expect(started.map((w) => w.cursor)).toEqual(['c1']);
    // Replaced, but nothing is stored for them yet: no answer.
    expect(order).toEqual([]);

    started[0]!.answer();
    await expect(first.done).resolves.toEqual({ outcome: 'written', stored: 'c1' });
    await turn();
    expect(started.map((w) => w.cursor)).toEqual(['c1', 'c1001']);
    expect(order).toEqual([]);
    started[1]!.answer();
    await expect(flood.at(-1)!.done).resolves.toEqual({ outcome: 'written', stored: 'c1001' });
    await turn();
    // Every replaced ack is answered with the write that took its place, before that one's own.
    expect(order).toEqual([
      ...Array.from({ length: 999 }, (_, i) => `${i}:superseded:c1001`),
      '999:written:c1001',
    ]);

    // Idle again: the next ack is written at once.
    writer.acknowledge('c1002');
    expect(started.map((w) => w.cursor)).toEqual(['c1', 'c1001', 'c1002']);
  });

  it('answers the acks a failed write replaced with its error', async () => {
    const { started, write } = heldWrites();
    const writer = new AckWriter(write);
    writer.acknowledge('c1');
    const replaced = writer.acknowledge('c2');
    const newest = writer.acknowledge('c3');
    const order = settlements([replaced, newest]);
    started[0]!.answer();
    await turn();
    started[1]!.fail(new Error('Redis went away'));
    await turn();
    expect(order).toEqual(['0:failed:Redis went away', '1:failed:Redis went away']);
  });

  it('holds its place while a write its caller gave up on is still unanswered, and drops a withdrawn ack with those it replaced', async () => {
    const { started, write } = heldWrites();
    const writer = new AckWriter(write);
    const stuck = writer.acknowledge('c1');
    stuck.withdraw(); // Started already: Redis holds it, so it stays in flight.
    const replaced = writer.acknowledge('c2');
    const waiting = writer.acknowledge('c3');
    replaced.withdraw(); // Not waiting any more (c3 is): a no-op.
    waiting.withdraw();
    await expect(waiting.done).resolves.toEqual({ outcome: 'withdrawn', stored: null });
    await expect(replaced.done).resolves.toEqual({ outcome: 'withdrawn', stored: null });

    started[0]!.fail(new Error('Redis went away'));
    await expect(stuck.done).rejects.toThrow('Redis went away');
    await turn();
    // c2 and c3 were withdrawn: nothing more is written.
    expect(started.map((w) => w.cursor)).toEqual(['c1']);
    const next = writer.acknowledge('c4');
    started[1]!.answer();
    await expect(next.done).resolves.toEqual({ outcome: 'written', stored: 'c4' });
  });

  it('goes on after a write that throws before it returns a promise', async () => {
    let calls = 0;
    const writer = new AckWriter(() => {
      calls++;
      if (calls === 1) throw new Error('not connected');
      return Promise.resolve();
    });
    await expect(writer.acknowledge('c1').done).rejects.toThrow('not connected');
    await expect(writer.acknowledge('c2').done).resolves.toEqual({
      outcome: 'written',
      stored: 'c2',
    });
  });
});
