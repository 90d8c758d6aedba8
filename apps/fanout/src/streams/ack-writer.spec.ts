import { AckWriter } from './ack-writer';

/** A write that settles when the test says so, as a Redis that holds it would. */
function heldWrites() {
  const started: { cursor: string; answer(): void; fail(error: Error): void }[] = [];
  const write = (cursor: string) =>
    new Promise<void>((answer, fail) => started.push({ cursor, answer, fail }));
  return { started, write };
}

const turn = () => new Promise((done) => setImmediate(done));

describe('AckWriter', () => {
  it('writes one ack at a time; of those that come meanwhile only the newest is written next', async () => {
    const { started, write } = heldWrites();
    const writer = new AckWriter(write);
    const first = writer.acknowledge('c1');
    const flood = Array.from({ length: 1000 }, (_, i) => writer.acknowledge(`c${i + 2}`));
    await turn();
    expect(started.map((w) => w.cursor)).toEqual(['c1']);
    await expect(Promise.all(flood.slice(0, -1).map((a) => a.done))).resolves.toEqual(
      Array(999).fill('superseded'),
    );

    started[0]!.answer();
    await expect(first.done).resolves.toBe('written');
    await turn();
    expect(started.map((w) => w.cursor)).toEqual(['c1', 'c1001']);
    started[1]!.answer();
    await expect(flood.at(-1)!.done).resolves.toBe('written');

    // Idle again: the next ack is written at once.
    writer.acknowledge('c1002');
    expect(started.map((w) => w.cursor)).toEqual(['c1', 'c1001', 'c1002']);
  });

  it('holds its place while a write its caller gave up on is still unanswered, and drops a withdrawn ack', async () => {
    const { started, write } = heldWrites();
    const writer = new AckWriter(write);
    const stuck = writer.acknowledge('c1');
    stuck.withdraw(); // Started already: Redis holds it, so it stays in flight.
    const waiting = writer.acknowledge('c2');
    waiting.withdraw();
    await expect(waiting.done).resolves.toBe('withdrawn');

    started[0]!.fail(new Error('Redis went away'));
    await expect(stuck.done).rejects.toThrow('Redis went away');
    await turn();
    // c2 was withdrawn: nothing more is written.
    expect(started.map((w) => w.cursor)).toEqual(['c1']);
    const next = writer.acknowledge('c3');
    started[1]!.answer();
    await expect(next.done).resolves.toBe('written');
  });

  it('goes on after a write that throws before it returns a promise', async () => {
    let calls = 0;
    const writer = new AckWriter(() => {
      calls++;
      if (calls === 1) throw new Error('not connected');
      return Promise.resolve();
    });
    await expect(writer.acknowledge('c1').done).rejects.toThrow('not connected');
    await expect(writer.acknowledge('c2').done).resolves.toBe('written');
  });
});
