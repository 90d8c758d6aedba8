import { useCallback, useEffect, useRef, useState } from 'react';
import { asProblem, type ApiProblem } from './api/api-problem';

export interface Loaded<T> {
  readonly data: T | undefined;
  /** The last failure; cleared by the next success. */
  readonly problem: ApiProblem | undefined;
  readonly loading: boolean;
  /** Loads again now. */
  readonly reload: () => void;
}

/**
 * Loads `load()` now and, with `everyMs`, again that long after each answer (never two at once),
 * until the component goes or `deps` change. Failures are kept as problems to show, not thrown.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  everyMs: number | null = null,
): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [round, setRound] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let gone = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const value = await loadRef.current();
        if (gone) return;
        setData(value);
        setProblem(undefined);
      } catch (error) {
        if (!gone) setProblem(asProblem(error));
      } finally {
        if (!gone) {
          setLoading(false);
          if (everyMs !== null) timer = setTimeout(() => void run(), everyMs);
        }
      }
    };
    void run();
    return () => {
      gone = true;
      if (timer !== undefined) clearTimeout(timer);
    };
    // `deps` name what the loader reads; the loader itself is new on every render.
  }, [...deps, everyMs, round]);

  const reload = useCallback(() => setRound((value) => value + 1), []);
  return { data, problem, loading, reload };
}

/** Runs one action at a time and keeps its failure to show; `busy` while it runs. */
export function useAction(): {
  readonly busy: boolean;
  readonly problem: ApiProblem | undefined;
  readonly run: <T>(action: () => Promise<T>) => Promise<T | undefined>;
  readonly clear: () => void;
} {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const run = useCallback(async <T,>(action: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setProblem(undefined);
    try {
      return await action();
    } catch (error) {
      setProblem(asProblem(error));
      return undefined;
    } finally {
      setBusy(false);
    }
  }, []);
  const clear = useCallback(() => setProblem(undefined), []);
  return { busy, problem, run, clear };
}

/** The browser tab's title while a page shows. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Herald console`;
  }, [title]);
}
