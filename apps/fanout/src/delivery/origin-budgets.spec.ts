import { OriginBudgets, originOf } from './origin-budgets';
import type { SendPermit } from './send-budget';

describe('OriginBudgets', () => {
  const events = { slow: jest.fn(), cut: jest.fn() };
  const settings = { minInFlight: 2, maxInFlight: 8, slowAfterMs: 60_000 };

  it('names the origin of a URL: scheme, host and port', () => {
    expect(originOf('https://hooks.example.com/a/b?c=1')).toBe('https://hooks.example.com');
    expect(originOf('http://127.0.0.1:8080/x')).toBe('http://127.0.0.1:8080');
    expect(originOf('not a url')).toBe('not a url');
    expect(originOf(null)).toBe('');
  });

  it('gives the lanes of one origin one budget, and another origin its own', () => {
    const budgets = new OriginBudgets(settings, events);
    const a1 = budgets.take('https://a.example');
    const a2 = budgets.take('https://a.example');
    const b = budgets.take('https://b.example');
    expect(a1).toBe(a2);
    expect(b).not.toBe(a1);
    // The floor is where a new origin starts; two slots, shared.
    expect(a1.tryTake()).not.toBeNull();
    expect(a2.tryTake()).not.toBeNull();
    expect(a1.tryTake()).toBeNull();
    expect(b.tryTake()).not.toBeNull();
    expect(budgets.totals()).toEqual({
      inFlight: 3,
      waiting: 0,
      limits: 4,
      origins: 2,
      slow: 0,
      rebases: 0,
    });
    budgets.close();
  });

  it('drops an origin’s budget once no lane sends there, and starts it afresh after', () => {
    const budgets = new OriginBudgets(settings, events);
    const first = budgets.take('https://a.example');
    budgets.take('https://a.example');
    budgets.give('https://a.example');
    expect(budgets.take('https://a.example')).toBe(first);
    budgets.give('https://a.example');
    budgets.give('https://a.example');
    expect(budgets.totals().origins).toBe(0);
    expect(budgets.take('https://a.example')).not.toBe(first);
    budgets.give('https://unknown.example'); // nothing to give back: no harm
    budgets.close();
  });

  it('tells of an origin that got slower whatever its load, unless it hangs', () => {
    const rebase = jest.fn();
    const budgets = new OriginBudgets(
      { minInFlight: 2, maxInFlight: 16, slowAfterMs: 1_000 },
      { slow: jest.fn(), cut: jest.fn(), rebase },
    );
    const budget = budgets.take('https://a.example');
    const held: SendPermit[] = [];
    /** Lanes always busy: every freed slot is taken again, and one more is asked for. */
    const run = (latencyMs: number, attempts: number) => {
      for (let i = 0; i < attempts; i++) {
        held.shift()?.release();
        budget.sample(latencyMs);
        for (let permit = budget.tryTake(); permit !== null; permit = budget.tryTake())
          held.push(permit);
      }
    };
    run(5, 200);
    expect(budget.limit).toBe(16);
    run(2_000, 300); // past HERALD_DELIVERY_SLOW_REQUEST_MS: hanging, not re-based
    expect(rebase).not.toHaveBeenCalled();
    expect(budget.limit).toBe(2);
    run(50, 300); // slower, whatever the load
    expect(rebase).toHaveBeenCalledWith('https://a.example', 5, 50, 16);
    expect(budget.limit).toBe(16);
    expect(budgets.totals().rebases).toBe(1);
    budgets.close();
  });
});
