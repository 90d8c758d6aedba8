import { OriginBudgets, originOf } from './origin-budgets';

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
    expect(budgets.totals()).toEqual({ inFlight: 3, waiting: 0, limits: 4, origins: 2, slow: 0 });
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
});
