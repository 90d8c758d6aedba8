import { fixedLimit, SendBudget, type SendPermit } from './send-budget';

describe('SendBudget', () => {
  let nowMs = 0;
  /** Attempts the budgets' sweeps found slow, as told through onSlow. */
  let slow = 0;
  const budgets: SendBudget[] = [];
  const budget = (limit: number, slowAfterMs = 60_000, onSlow?: (count: number) => void) => {
    const made = new SendBudget({
      limit: fixedLimit(limit),
      slowAfterMs,
      now: () => nowMs,
      onSlow: (count) => {
        slow += count;
        onSlow?.(count);
      },
    });
    budgets.push(made);
    return made;
  };

  beforeEach(() => {
    nowMs = 1_000_000;
    slow = 0;
    jest.useFakeTimers();
  });
  afterEach(() => {
    for (const made of budgets.splice(0)) made.close();
    jest.useRealTimers();
  });

  it('grants slots up to its limit, then none until one is released', () => {
    const b = budget(2);
    const first = b.tryTake();
    const second = b.tryTake();
    expect(first).not.toBeNull();
    expect(second).not.toBeNull();
    expect(b.tryTake()).toBeNull();
    expect(b.inFlight).toBe(2);
    first!.release();
    first!.release(); // twice is once
    expect(b.inFlight).toBe(1);
    expect(b.tryTake()).not.toBeNull();
    expect(b.tryTake()).toBeNull();
  });

  it('hands freed slots to waiters in turn, one each, before anyone takes one anew', () => {
    const b = budget(1);
    const held = b.tryTake()!;
    const got: string[] = [];
    const permits: SendPermit[] = [];
    const waiter = (name: string) => (permit: SendPermit) => {
      got.push(name);
      permits.push(permit);
    };
    const a = waiter('a');
    const c = waiter('c');
    b.wait(a);
    b.wait(c);
    b.wait(a); // asking again keeps its place
    expect(b.waiting).toBe(2);
    held.release();
    expect(got).toEqual(['a']);
    // c waits: a newcomer does not jump the queue even when a slot frees
    expect(b.tryTake()).toBeNull();
    permits[0]!.release();
    expect(got).toEqual(['a', 'c']);
    expect(b.waiting).toBe(0);
    permits[1]!.release();
    expect(b.tryTake()).not.toBeNull();
  });

  it('forgets a cancelled waiter', () => {
    const b = budget(1);
    const held = b.tryTake()!;
    const waiter = jest.fn();
    b.wait(waiter);
    b.cancel(waiter);
    held.release();
    expect(waiter).not.toHaveBeenCalled();
    expect(b.inFlight).toBe(0);
  });

  it('stops counting an attempt outstanding past slowAfterMs, so a hanging endpoint frees its slots', () => {
    const onSlow = jest.fn();
    const b = budget(2, 1000, onSlow);
    const hanging = [b.tryTake()!, b.tryTake()!];
    const waiter = jest.fn();
    b.wait(waiter);
    nowMs += 999;
    jest.advanceTimersByTime(999);
    expect(waiter).not.toHaveBeenCalled();
    nowMs += 1;
    jest.advanceTimersByTime(1);
    expect(waiter).toHaveBeenCalledTimes(1);
    expect(slow).toBe(2);
    expect(onSlow).toHaveBeenCalledWith(2);
    // one slot went to the waiter, the other is free
    expect(b.inFlight).toBe(1);
    // a slow attempt that ends at last frees nothing more
    for (const permit of hanging) permit.release();
    expect(b.inFlight).toBe(1);
    expect(b.tryTake()).not.toBeNull();
    expect(b.tryTake()).toBeNull();
  });

  it('turns slow only what is still outstanding, in start order', () => {
    const b = budget(10, 1000);
    const early = b.tryTake()!;
    nowMs += 600;
    const late = b.tryTake()!;
    early.release();
    nowMs += 400;
    jest.advanceTimersByTime(1000);
    expect(slow).toBe(0);
    expect(b.inFlight).toBe(1);
    nowMs += 600;
    jest.advanceTimersByTime(600);
    expect(slow).toBe(1);
    expect(b.inFlight).toBe(0);
    late.release();
    expect(b.inFlight).toBe(0);
  });

  it('does not recurse when a waiter hands its permit straight back', () => {
    const b = budget(1);
    const held = b.tryTake()!;
    const calls: string[] = [];
    const refuse = (name: string) => (permit: SendPermit) => {
      calls.push(name);
      permit.release();
    };
    b.wait(refuse('x'));
    b.wait(refuse('y'));
    b.wait(refuse('z'));
    held.release();
    expect(calls).toEqual(['x', 'y', 'z']);
    expect(b.inFlight).toBe(0);
  });

  it('unlimited: every take succeeds and nothing is counted', () => {
    const b = SendBudget.unlimited();
    for (let i = 0; i < 1000; i++) expect(b.tryTake()).not.toBeNull();
    expect(b.inFlight).toBe(0);
  });
});
