import { InvalidSubscriptionRequestError } from './subscriptions.errors';

/** What the controllers need from a Fastify reply (kept narrow so tests and types stay simple). */
export interface ReplyHeaders {
  header(name: string, value: string): unknown;
}

/** The version an `If-Match` header asks for (`"3"` or `W/"3"`), undefined without one. */
export function expectedVersionOf(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,12})"\s*$/.exec(ifMatch);
  if (!match) {
    throw new InvalidSubscriptionRequestError([
      { pointer: '/headers/if-match', message: 'must be the ETag of a GET, like "3"' },
    ]);
  }
  return Number(match[1]);
}
