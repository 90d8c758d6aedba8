import type { DeadLetter, Page } from '../api/herald.types';
import { canRedriveAll, loadDeadLetters, waitingLetters } from './dead-letter-list';

function letter(n: number, redriven = false): DeadLetter {
  return {
    id: `dlq_${String(n).padStart(4, '0')}`,
    eventId: `evt_${n}`,
    type: 'order.created',
    key: null,
    attempts: 8,
    lastStatus: 500,
    lastError: null,
    firstAttemptAt: '2025-01-01T00:00:00Z',
    deadLetteredAt: '2025-01-02T00:00:00Z',
    redrivenAt: redriven ? '2025-01-03T00:00:00Z' : null,
    redriveId: redriven ? 'rdr_1' : null,
  };
}

/** The API's paging over `letters`, oldest first, `size` a page; records the cursors asked for. */
function pagedApi(letters: readonly DeadLetter[], size: number) {
  const asked: (string | null)[] = [];
  const page = (cursor: string | null): Promise<Page<DeadLetter>> => {
    asked.push(cursor);
    const start = cursor === null ? 0 : letters.findIndex((l) => l.id === cursor) + 1;
    const items = letters.slice(start, start + size);
    const more = start + size < letters.length;
    return Promise.resolve({ items, nextCursor: more ? items[items.length - 1]!.id : null });
  };
  return { page, asked };
}

describe('loadDeadLetters', () => {
  it('follows the cursor past the first page, so newer dead letters show too', async () => {
    const letters = Array.from({ length: 250 }, (_, n) => letter(n));
    const api = pagedApi(letters, 100);
    const list = await loadDeadLetters(api.page, 5);
    expect(list.items.map((l) => l.id)).toEqual(letters.map((l) => l.id));
    expect(list.more).toBe(false);
    expect(api.asked).toEqual([null, 'dlq_0099', 'dlq_0199']);
  });

  it('stops after the pages asked for and says more are left', async () => {
    const letters = Array.from({ length: 250 }, (_, n) => letter(n));
    const api = pagedApi(letters, 100);
    const list = await loadDeadLetters(api.page, 2);
    expect(list.items).toHaveLength(200);
    expect(list.more).toBe(true);
    expect(api.asked).toHaveLength(2);
  });

  it('asks once when there are none', async () => {
    const api = pagedApi([], 100);
    expect(await loadDeadLetters(api.page, 5)).toEqual({ items: [], more: false });
    expect(api.asked).toEqual([null]);
  });
});

describe('canRedriveAll', () => {
  it('is on while a letter waits, wherever it sits in the list', async () => {
    // The oldest 100 were redriven; the newer ones still wait.
    const letters = Array.from({ length: 150 }, (_, n) => letter(n, n < 100));
    const list = await loadDeadLetters(pagedApi(letters, 100).page, 5);
    expect(waitingLetters(list)).toHaveLength(50);
    expect(canRedriveAll(list)).toBe(true);
  });

  it('is on when letters were left unloaded, since some of those may wait', async () => {
    const letters = Array.from({ length: 150 }, (_, n) => letter(n, n < 100));
    const list = await loadDeadLetters(pagedApi(letters, 100).page, 1);
    expect(waitingLetters(list)).toEqual([]);
    expect(canRedriveAll(list)).toBe(true);
  });

  it('is off once every dead letter was redriven', () => {
    expect(canRedriveAll({ items: [letter(1, true), letter(2, true)], more: false })).toBe(false);
    expect(canRedriveAll({ items: [], more: false })).toBe(false);
  });
});
