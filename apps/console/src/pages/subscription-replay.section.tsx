import { useState, type FormEvent } from 'react';
import type { ReplayPosition } from '../api/herald.types';
import { Field } from '../components/fields';
import { Time } from '../components/format';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { localTimeToRfc3339 } from '../forms/subscription-form.rules';
import { useAction, useLoad } from '../hooks';
import { replayProgressText } from './replay-progress';

const EVERY_MS = 2000;

function position(value: ReplayPosition | null) {
  if (value === null) return <span className="muted">now</span>;
  return 'time' in value ? <Time value={value.time} /> : <code>{value.cursor}</code>;
}

/** Sends again what Kafka still holds from a time on, marked `herald-replay: true`. */
export function ReplaySection({ id }: { id: string }) {
  const { api } = useConsole();
  const replays = useLoad(() => api.replays(id), [api, id], EVERY_MS);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [errors, setErrors] = useState<{ from?: string; to?: string }>({});
  const start = useAction();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const fromTime = localTimeToRfc3339(from);
    const toTime = to.trim() === '' ? undefined : localTimeToRfc3339(to);
    const found: { from?: string; to?: string } = {};
    if (fromTime === null) found.from = 'Choose the time to replay from.';
    else if (Date.parse(fromTime) > Date.now()) found.from = 'Choose a time in the past.';
    if (toTime === null) found.to = 'Choose a time, or leave it empty for now.';
    else if (toTime !== undefined && fromTime !== null && toTime <= fromTime)
      found.to = 'Must be after the start.';
    setErrors(found);
    if (found.from !== undefined || found.to !== undefined || fromTime === null) {
      document.getElementById(found.from !== undefined ? 'replay-from' : 'replay-to')?.focus();
      return;
    }
    const accepted = await start.run(() => api.replay(id, fromTime, toTime ?? undefined));
    if (accepted !== undefined) replays.reload();
  };

  const items = [...(replays.data ?? [])].reverse();
  return (
    <section className="card" aria-labelledby="replay-heading">
      <h2 id="replay-heading">Replay</h2>
      <p className="muted">
        Re-deliver the matching events from a time on (as far back as Kafka keeps them), in order
        per key, while live delivery goes on.
      </p>
      <ProblemAlert problem={start.problem} label="The replay was not started." />
      <form className="field-row" noValidate onSubmit={(event) => void submit(event)}>
        <Field id="replay-from" label="Replay from" hint="In your time zone." error={errors.from}>
          {(describedBy, invalid) => (
            <input
              id="replay-from"
              type="datetime-local"
              step={1}
              value={from}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(event) => setFrom(event.target.value)}
            />
          )}
        </Field>
        <Field id="replay-to" label="Up to (optional)" hint="Empty: up to now." error={errors.to}>
          {(describedBy, invalid) => (
            <input
              id="replay-to"
              type="datetime-local"
              step={1}
              value={to}
              aria-describedby={describedBy}
              aria-invalid={invalid}
              onChange={(event) => setTo(event.target.value)}
            />
          )}
        </Field>
        <div className="field field-button">
          <button type="submit" disabled={start.busy}>
            Start replay
          </button>
        </div>
      </form>
      <ProblemAlert problem={replays.problem} label="The replays could not be loaded." />
      {items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Replays, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Replay</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {items.map((replay) => (
                <tr key={replay.id}>
                  <td>
                    <span className="small">{replay.id}</span>
                  </td>
                  <td>{position(replay.from)}</td>
                  <td>{position(replay.to)}</td>
                  <td>
                    <span className={`badge badge-replay-${replay.status}`}>{replay.status}</span>
                    {replay.error ? <span className="field-error"> {replay.error}</span> : null}
                  </td>
                  <td>{replayProgressText(replay)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
