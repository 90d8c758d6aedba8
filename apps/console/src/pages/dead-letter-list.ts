import type { DeadLetter, Page } from '../api/herald.types';

/**
 * Pages of dead letters (100 each, the most the API gives at once) the section loads at first and
 * adds with each "Show more": 500 letters, re-read on every refresh.
 */
export const DEAD_LETTER_PAGES_STEP = 5;

/** A subscription's dead letters from the oldest on, as far as they were loaded. */
export interface DeadLetterList {
  readonly items: readonly DeadLetter[];
  /** The subscription has newer dead letters than the ones loaded. */
  readonly more: boolean;
}

/** Follows `nextCursor` from the oldest dead letter for at most `pages` pages. */
export async function loadDeadLetters(
  page: (cursor: string | null) => Promise<Page<DeadLetter>>,
  pages: number,
): Promise<DeadLetterList> {
  const items: DeadLetter[] = [];
  let cursor: string | null = null;
  for (let loaded = 0; loaded < pages; loaded += 1) {
    const next: Page<DeadLetter> = await page(cursor);
    items.push(...next.items);
    cursor = next.nextCursor;
    if (cursor === null) break;
  }
  return { items, more: cursor !== null };
}

/** The loaded dead letters no redrive has handed back to delivery yet. */
export function waitingLetters(list: DeadLetterList): DeadLetter[] {
  return list.items.filter((letter) => letter.redrivenAt === null);
}

/**
 * Whether "Redrive all" may have something to send: a loaded letter waits, or letters were left
 * unloaded (the server redrives every waiting one, loaded or not).
 */
export function canRedriveAll(list: DeadLetterList): boolean {
  return list.more || waitingLetters(list).length > 0;
}
