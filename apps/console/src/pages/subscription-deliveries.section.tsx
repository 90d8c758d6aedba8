import { useEffect, useRef, useState } from 'react';
import type { DeliveryAttempt } from '../api/herald.types';
import { Field } from '../components/fields';
import { Time } from '../components/format';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { useLoad } from '../hooks';

const EVERY_MS = 2000;

function result(attempt: DeliveryAttempt): string {
  if (attempt.statusCode !== null) return `HTTP ${attempt.statusCode}`;
  return attempt.error ?? 'no answer';
}

/**
 * The attempt log, newest first, refreshed every two seconds while "Live" is on. New attempts are
 * announced (politely) to screen readers; the table itself is not re-read on each refresh.
 */
export function DeliveryLogSection({ id }: { id: string }) {
  const { api } = useConsole();
  const [status, setStatus] = useState<'' | 'succeeded' | 'failed'>('');
  const [live, setLive] = useState(true);
  const log = useLoad(
    () => api.deliveries(id, { status: status === '' ? null : status, limit: 50 }),
    [api, id, status],
    live ? EVERY_MS : null,
  );
  const items = log.data?.items ?? [];
  const newest = items[0]?.id ?? null;
  const seen = useRef<{ newest: string | null; ids: Set<string> } | null>(null);
  const [announcement, setAnnouncement] = useState('');

  useEffect(() => {
    if (log.data === undefined) return;
    const previous = seen.current;
    const ids = new Set(log.data.items.map((attempt) => attempt.id));
    if (previous !== null && newest !== previous.newest) {
      const fresh = log.data.items.filter((attempt) => !previous.ids.has(attempt.id)).length;
      if (fresh > 0)
        setAnnouncement(
          fresh === 1 ? 'One new delivery attempt.' : `${fresh} new delivery attempts.`,
        );
    }
    seen.current = { newest, ids };
  }, [log.data, newest]);

  return (
    <section className="card" aria-labelledby="deliveries-heading">
      <div className="section-head">
        <h2 id="deliveries-heading">Delivery log</h2>
        <div className="toolbar">
          <Field id="deliveries-status" label="Show">
            {(describedBy) => (
              <select
                id="deliveries-status"
                aria-describedby={describedBy}
                value={status}
                onChange={(event) => {
                  seen.current = null;
                  setStatus(event.target.value as typeof status);
                }}
              >
                <option value="">All attempts</option>
                <option value="succeeded">Succeeded</option>
                <option value="failed">Failed</option>
              </select>
            )}
          </Field>
          <label className="checkbox">
            <input
              type="checkbox"
              checked={live}
              onChange={(event) => setLive(event.target.checked)}
            />
            Live updates
          </label>
        </div>
      </div>
      <p className="visually-hidden" aria-live="polite">
        {announcement}
      </p>
      <ProblemAlert problem={log.problem} label="The delivery log could not be loaded." />
      {log.data !== undefined && items.length === 0 ? (
        <p className="muted">No delivery attempts yet. Send a test ping to see one.</p>
      ) : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table className="log">
            <caption className="visually-hidden">Delivery attempts, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Result</th>
                <th scope="col">Duration</th>
                <th scope="col">Response</th>
              </tr>
            </thead>
            <tbody>
              {items.map((attempt) => (
                <tr key={attempt.id} data-event-id={attempt.eventId}>
                  <td>
                    <Time value={attempt.at} />
                  </td>
                  <td>
                    <code>{attempt.type}</code>
                    {attempt.test ? <span className="badge">test</span> : null}
                    {attempt.replay ? <span className="badge">replay</span> : null}
                    <br />
                    <span className="muted small">{attempt.eventId}</span>
                  </td>
                  <td>{attempt.attempt}</td>
                  <td>
                    <span className={`outcome outcome-${attempt.status}`}>
                      {attempt.status === 'succeeded' ? 'Delivered' : 'Failed'}
                    </span>{' '}
                    {result(attempt)}
                  </td>
                  <td>{attempt.durationMs} ms</td>
                  <td>
                    {attempt.responseBody ? (
                      <details>
                        <summary>Body</summary>
                        <pre className="json">{attempt.responseBody}</pre>
                      </details>
                    ) : (
                      <span className="muted">empty</span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
