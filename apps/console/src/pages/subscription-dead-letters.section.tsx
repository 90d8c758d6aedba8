import { useState } from 'react';
import { Time } from '../components/format';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { useAction, useLoad } from '../hooks';
import {
  DEAD_LETTER_PAGES_STEP,
  canRedriveAll,
  loadDeadLetters,
  waitingLetters,
} from './dead-letter-list';

const EVERY_MS = 3000;

/**
 * Deliveries Herald gave up on after their last retry, and sending them again (redrive). Shows
 * the oldest 500 and 500 more with each "Show more", all re-read on every refresh, so the redrive
 * state of every row shown stays current.
 */
export function DeadLettersSection({ id }: { id: string }) {
  const { api } = useConsole();
  const [shown, setShown] = useState({ id, pages: DEAD_LETTER_PAGES_STEP });
  const pages = shown.id === id ? shown.pages : DEAD_LETTER_PAGES_STEP;
  const letters = useLoad(
    () => loadDeadLetters((cursor) => api.deadLetters(id, cursor), pages),
    [api, id, pages],
    EVERY_MS,
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const redrive = useAction();
  const [note, setNote] = useState('');
  const items = letters.data?.items ?? [];
  const more = letters.data?.more ?? false;
  const waiting = letters.data === undefined ? [] : waitingLetters(letters.data);

  const send = async (ids?: string[]) => {
    const answer = await redrive.run(() => api.redrive(id, ids));
    if (answer === undefined) return;
    setSelected(new Set());
    setNote(
      `Redrive ${answer.redriveId} accepted: Herald delivers ${
        ids === undefined
          ? 'every waiting dead letter'
          : `${ids.length} dead letter${ids.length === 1 ? '' : 's'}`
      } again; watch the delivery log.`,
    );
    letters.reload();
  };

  const toggle = (letterId: string, on: boolean) =>
    setSelected((current) => {
      const next = new Set(current);
      if (on) next.add(letterId);
      else next.delete(letterId);
      return next;
    });

  return (
    <section className="card" aria-labelledby="dead-letters-heading">
      <div className="section-head">
        <h2 id="dead-letters-heading">Dead letters</h2>
        <div className="toolbar">
          <button
            type="button"
            onClick={() => void send([...selected])}
            disabled={redrive.busy || selected.size === 0}
          >
            Redrive selected
          </button>
          <button
            type="button"
            className="button-primary"
            onClick={() => void send()}
            disabled={redrive.busy || letters.data === undefined || !canRedriveAll(letters.data)}
          >
            Redrive all
          </button>
        </div>
      </div>
      <p className="muted">
        Fix your endpoint first: a redrive sends each event again with the same{' '}
        <code>webhook-id</code>, through the whole retry schedule.
      </p>
      <ProblemAlert problem={letters.problem} label="The dead letters could not be loaded." />
      <ProblemAlert problem={redrive.problem} label="The redrive was not accepted." />
      <p role="status">{note}</p>
      {letters.data !== undefined && items.length === 0 ? (
        <p className="muted">No dead letters.</p>
      ) : null}
      {items.length > 0 ? (
        <p className="muted">
          {more
            ? `The oldest ${items.length} dead letters, ${waiting.length} of them waiting; newer ones are not shown yet. "Redrive all" sends those too.`
            : `${items.length} dead letter${items.length === 1 ? '' : 's'}, ${waiting.length} waiting.`}
        </p>
      ) : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Dead letters, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">
                  <span className="visually-hidden">Select</span>
                </th>
                <th scope="col">Event</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last result</th>
                <th scope="col">Dead-lettered</th>
                <th scope="col">Redriven</th>
              </tr>
            </thead>
            <tbody>
              {items.map((letter) => (
                <tr key={letter.id} data-event-id={letter.eventId}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select dead letter of event ${letter.eventId}`}
                      checked={selected.has(letter.id)}
                      disabled={letter.redrivenAt !== null}
                      onChange={(event) => toggle(letter.id, event.target.checked)}
                    />
                  </td>
                  <td>
                    <code>{letter.type}</code>
                    <br />
                    <span className="muted small">{letter.eventId}</span>
                  </td>
                  <td>{letter.attempts}</td>
                  <td>
                    {letter.lastError ??
                      (letter.lastStatus === null ? 'no answer' : `HTTP ${letter.lastStatus}`)}
                  </td>
                  <td>
                    <Time value={letter.deadLetteredAt} />
                  </td>
                  <td>
                    {letter.redrivenAt === null ? (
                      <span className="muted">waiting</span>
                    ) : (
                      <Time value={letter.redrivenAt} />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {more ? (
        <button
          type="button"
          onClick={() => setShown({ id, pages: pages + DEAD_LETTER_PAGES_STEP })}
        >
          Show more dead letters
        </button>
      ) : null}
    </section>
  );
}
