import { createContext, useContext } from 'react';
import type { ApiProblem } from './api/api-problem';
import type { HeraldApi } from './api/herald-api';
import type { EventType } from './api/herald.types';

export interface ConsoleContextValue {
  readonly api: HeraldApi;
  /** The partner's API key for this browser tab, or null when signed out. */
  readonly key: string | null;
  /** fanout's public base URL (from /console/config.json). */
  readonly streamsUrl: string;
  /** The event catalog once loaded (public; used to check type globs while typing). */
  readonly catalog: readonly EventType[] | null;
  readonly navigate: (path: string) => void;
  readonly signIn: (key: string) => void;
  /** Forgets the key; with a problem, the sign-in page says why. */
  readonly signOut: (problem?: ApiProblem) => void;
  /** Hands a new signing secret to the next subscription page, to show once. */
  readonly revealSecret: (subscriptionId: string, secret: string) => void;
  readonly takeSecret: (subscriptionId: string) => string | null;
}

export const ConsoleContext = createContext<ConsoleContextValue | null>(null);

export function useConsole(): ConsoleContextValue {
  const value = useContext(ConsoleContext);
  if (value === null) throw new Error('useConsole outside the console app');
  return value;
}
