import { sharingLookups, type HostResolver, type ResolvedAddress } from './host-resolver';

describe('sharingLookups', () => {
  it('answers overlapping lookups of one name with one lookup, and looks again afterwards', async () => {
    const asked: string[] = [];
    const answers: Array<(addresses: readonly ResolvedAddress[]) => void> = [];
    const slow: HostResolver = (hostname) => {
      asked.push(hostname);
      return new Promise((resolve) => answers.push(resolve));
    };
    const resolver = sharingLookups(slow);
    // A subscription opening 16 connections to a name whose server is slow to answer.
    const waiting = Array.from({ length: 16 }, (_, i) =>
      resolver(i % 2 === 0 ? 'hooks.example' : 'HOOKS.example'),
    );
    const other = resolver('other.example');
    expect(asked).toEqual(['hooks.example', 'other.example']);
    answers[0]!([{ address: '203.0.113.7', family: 4 }]);
    answers[1]!([{ address: '203.0.113.8', family: 4 }]);
    for (const answer of await Promise.all(waiting))
      expect(answer).toEqual([{ address: '203.0.113.7', family: 4 }]);
    expect(await other).toEqual([{ address: '203.0.113.8', family: 4 }]);
    // Nothing is cached past the lookup: DNS answers change.
    void resolver('hooks.example');
    expect(asked).toEqual(['hooks.example', 'other.example', 'hooks.example']);
  });

  it('hands every waiter the failure, and the next lookup tries again', async () => {
    let calls = 0;
    const failing = sharingLookups(() => {
      calls += 1;
      return Promise.reject(new Error('ENOTFOUND'));
    });
    const results = await Promise.allSettled([failing('x.example'), failing('x.example')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expect(failing('x.example')).rejects.toThrow('ENOTFOUND');
    expect(calls).toBe(2);
  });
});
