import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ApiProblem } from '../api/api-problem';
import { Field } from '../components/fields';
import { Json, Time } from '../components/format';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { parseFilterText } from '../forms/event-filter.rules';
import { splitGlobs, typeGlobProblem } from '../forms/event-type-glob.rules';
import { usePageTitle } from '../hooks';
import type { StreamedEvent } from '../streams/event-stream';
import { tailEventStream, type TailState as ConnectionState } from '../streams/event-tail';

const KEEP = 200;
/** Gap notices kept (one comes per partition skipped; a topic has at most a few hundred). */
const KEEP_GAPS = 20;
const ANNOUNCE_EVERY_MS = 2000;

type TailState = 'stopped' | ConnectionState;

const STATE_TEXT: Record<TailState, string> = {
  stopped: 'Not connected.',
  connecting: 'Connecting…',
  open: 'Connected: new events appear below as they happen.',
  reconnecting: 'Connection lost; reconnecting from the last event…',
};

/** The status line; while reconnecting because Herald ended the stream, in Herald's words. */
function stateText(state: TailState, notice: string | null): string {
  if (state === 'reconnecting' && notice !== null)
    return `Herald ended the stream: ${notice}. Reconnecting from the last event…`;
  return STATE_TEXT[state];
}

/** Events as they happen, over Herald's SSE stream, narrowed by types and a filter. */
export function LiveTailPage({ initialTypes }: { initialTypes: string | null }) {
  const { key, streamsUrl, signOut } = useConsole();
  usePageTitle('Live tail');
  const [types, setTypes] = useState(initialTypes ?? '');
  const [filter, setFilter] = useState('');
  const [from, setFrom] = useState<'latest' | 'earliest'>('latest');
  const [state, setState] = useState<TailState>('stopped');
  const [notice, setNotice] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | undefined>(undefined);
  const [events, setEvents] = useState<readonly { event: StreamedEvent; cursor: string | null }[]>(
    [],
  );
  const [received, setReceived] = useState(0);
  const [gaps, setGaps] = useState<readonly { notice: string; count: number }[]>([]);
  const [announcement, setAnnouncement] = useState('');
  const controller = useRef<AbortController | null>(null);

  const typesProblem = splitGlobs(types)
    .map((glob) => [glob, typeGlobProblem(glob)] as const)
    .find(([, found]) => found !== undefined);
  const typesError = typesProblem
    ? `"${typesProblem[0]}" is not a glob: ${typesProblem[1]}.`
    : undefined;
  const parsedFilter = parseFilterText(filter);
  const filterError = parsedFilter.ok ? undefined : parsedFilter.message;

  useEffect(() => () => controller.current?.abort(), []);

  // Screen readers hear a summary every few seconds at most, not every event.
  useEffect(() => {
    if (received === 0) return;
    const timer = setTimeout(() => {
      const newest = events[0]?.event.type;
      setAnnouncement(
        `${received} event${received === 1 ? '' : 's'} received${newest ? `; the newest is ${newest}` : ''}.`,
      );
    }, ANNOUNCE_EVERY_MS);
    return () => clearTimeout(timer);
  }, [received, events]);

  const stop = () => {
    controller.current?.abort();
    controller.current = null;
    setNotice(null);
    setState('stopped');
  };

  const start = async (event: FormEvent) => {
    event.preventDefault();
    if (typesError || filterError || key === null) {
      document.getElementById(typesError ? 'tail-types' : 'tail-filter')?.focus();
      return;
    }
    controller.current?.abort();
    const own = new AbortController();
    controller.current = own;
    setProblem(undefined);
    setEvents([]);
    setGaps([]);
    setReceived(0);
    setAnnouncement('');
    const stopped = await tailEventStream(
      {
        streamsUrl,
        key,
        types: splitGlobs(types),
        filter:
          parsedFilter.ok && parsedFilter.filter !== null
            ? JSON.stringify(parsedFilter.filter)
            : null,
        from,
      },
      {
        signal: own.signal,
        onState: (next, why) => {
          if (next === 'open') setProblem(undefined);
          setNotice(why);
          setState(next);
        },
        onEvent: (streamed, cursor) => {
          setEvents((current) => [{ event: streamed, cursor }, ...current].slice(0, KEEP));
          setReceived((count) => count + 1);
        },
        onGap: (notice) =>
          setGaps((current) =>
            [{ notice, count: (current[0]?.count ?? 0) + 1 }, ...current].slice(0, KEEP_GAPS),
          ),
        onTrouble: setProblem,
      },
    );
    if (stopped === null) return;
    if (controller.current === own) controller.current = null;
    setNotice(null);
    setState('stopped');
    // A deleted key works nowhere any more: sign out, as every page does when the key is refused.
    if (stopped.code === 'key_deleted') signOut(stopped);
    else setProblem(stopped);
  };

  const running = state !== 'stopped';
  return (
    <>
      <h1 tabIndex={-1}>Live tail</h1>
      <p className="lead">
        Watch events as Herald publishes them, before you build anything. Narrow them with types and
        a filter; nothing is stored.
      </p>
      <form className="card form" noValidate onSubmit={(event) => void start(event)}>
        <div className="field-row">
          <Field
            id="tail-types"
            label="Event types (optional)"
            hint="Globs separated by commas; empty for every type your key may read."
            error={typesError}
          >
            {(describedBy, invalid) => (
              <input
                id="tail-types"
                type="text"
                spellCheck={false}
                value={types}
                aria-describedby={describedBy}
                aria-invalid={invalid}
                onChange={(changed) => setTypes(changed.target.value)}
              />
            )}
          </Field>
          <Field id="tail-from" label="Start with">
            {(describedBy) => (
              <select
                id="tail-from"
                aria-describedby={describedBy}
                value={from}
                onChange={(changed) => setFrom(changed.target.value as 'latest' | 'earliest')}
              >
                <option value="latest">New events</option>
                <option value="earliest">The oldest events Kafka holds</option>
              </select>
            )}
          </Field>
        </div>
        <Field
          id="tail-filter"
          label="Filter (optional)"
          hint={
            <>
              JSON over the CloudEvent, like <code>{'{"data.total": {"$gt": 100}}'}</code>.
            </>
          }
          error={filterError}
        >
          {(describedBy, invalid) => (
            <textarea
              id="tail-filter"
              className="code"
              rows={2}
              spellCheck={false}
              value={filter}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(changed) => setFilter(changed.target.value)}
            />
          )}
        </Field>
        <div className="actions">
          <button type="submit" className="button-primary">
            {running ? 'Restart' : 'Start'}
          </button>
          <button type="button" onClick={stop} disabled={!running}>
            Stop
          </button>
          <span role="status" className={`tail-state tail-${state}`}>
            {stateText(state, notice)}
          </span>
        </div>
      </form>
      <ProblemAlert problem={problem} label="The live tail stopped." />
      {gaps.length === 0 ? null : (
        <div role="alert" className="alert alert-warning tail-gaps">
          <p>
            <strong>Events were skipped:</strong> the tail resumed from a position older than the
            oldest record Kafka keeps.
          </p>
          <ul>
            {gaps.map(({ notice, count }) => (
              <li key={count}>{notice}</li>
            ))}
          </ul>
        </div>
      )}
      <p className="visually-hidden" aria-live="polite">
        {announcement}
      </p>
      <section aria-labelledby="tail-events-heading">
        <h2 id="tail-events-heading">
          Events <span className="muted small">({received} received, newest first)</span>
        </h2>
        {events.length === 0 ? (
          <p className="muted">
            {running ? 'Waiting for events…' : 'Start the tail to see events.'}
          </p>
        ) : (
          <ol className="plain-list tail-events">
            {events.map(({ event, cursor }) => (
              <li key={cursor ?? event.id} className="card tail-event" data-event-id={event.id}>
                <div className="tail-event-head">
                  <code className="strong">{event.type}</code>
                  <span className="muted small">{event.id}</span>
                  {typeof event.time === 'string' ? <Time value={event.time} /> : null}
                </div>
                <details>
                  <summary>Event {event.id}</summary>
                  <Json value={event} label={`CloudEvent ${event.id}`} />
                </details>
              </li>
            ))}
          </ol>
        )}
      </section>
    </>
  );
}
