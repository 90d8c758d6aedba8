import { HeldLease } from './held-lease';

describe('HeldLease', () => {
  it('is lost when a renewal is refused, and its signal aborts', () => {
    const lease = new HeldLease(new AbortController().signal);
    lease.renewalRefused();
    expect(lease.lost).toBe(true);
    expect(lease.signal.aborted).toBe(true);
  });

  it('is not lost by a renewal refused while the work writes its own end', () => {
    // The end write (a finished redrive, a replay handed back) takes the claim away; a renewal
    // that reaches Redis after it is refused, and that is no take-over.
    const lease = new HeldLease(new AbortController().signal);
    lease.settle();
    lease.renewalRefused();
    expect(lease.lost).toBe(false);
    lease.lose();
    expect(lease.lost).toBe(true);
  });

  it('aborts its signal when the instance stops, without being lost', () => {
    const stopping = new AbortController();
    const lease = new HeldLease(stopping.signal);
    stopping.abort();
    expect(lease.signal.aborted).toBe(true);
    expect(lease.lost).toBe(false);
  });
});
