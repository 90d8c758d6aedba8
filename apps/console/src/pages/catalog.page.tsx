import { useState } from 'react';
import type { EventType } from '../api/herald.types';
import { Json } from '../components/format';
import { Link } from '../components/link';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { globMatches, typeGlobProblem } from '../forms/event-type-glob.rules';
import { usePageTitle, type Loaded } from '../hooks';
import { pathOf } from '../routes';

function matchesSearch(eventType: EventType, search: string): boolean {
  const text = search.trim().toLowerCase();
  if (text === '') return true;
  if (text.includes('*') && typeGlobProblem(text) === undefined)
    return globMatches(text, eventType.type.toLowerCase());
  return [eventType.type, eventType.title, eventType.summary, eventType.description].some((field) =>
    field?.toLowerCase().includes(text),
  );
}

/** Every event type in the contract: what it means, its schema and an example (public). */
export function CatalogPage({ catalog }: { catalog: Loaded<readonly EventType[]> }) {
  const { key } = useConsole();
  const [search, setSearch] = useState('');
  usePageTitle('Event catalog');
  const all = catalog.data ?? [];
  const shown = all.filter((eventType) => matchesSearch(eventType, search));

  return (
    <>
      <h1 tabIndex={-1}>Event catalog</h1>
      <p className="lead">
        The events Herald can send you, each checked against its schema before it leaves. Subscribe
        to one type (<code>order.created</code>) or to many with globs: <code>*</code> stands for
        one segment (<code>order.*</code>), <code>**</code> for any number (<code>kitchen.**</code>
        ).
      </p>
      <ProblemAlert problem={catalog.problem} label="The catalog could not be loaded." />
      <div className="toolbar">
        <div className="field field-inline">
          <label htmlFor="catalog-search">Find event types</label>
          <input
            id="catalog-search"
            type="search"
            placeholder="order.* or a word"
            value={search}
            onChange={(event) => setSearch(event.target.value)}
          />
        </div>
        <p role="status" className="muted">
          {catalog.loading && catalog.data === undefined
            ? 'Loading the catalog…'
            : `${shown.length} of ${all.length} event types`}
        </p>
      </div>
      <ul className="plain-list">
        {shown.map((eventType) => (
          <li key={eventType.type}>
            <article className="card" aria-labelledby={`type-${eventType.type}`}>
              <h2 id={`type-${eventType.type}`}>
                <code>{eventType.type}</code>
                {eventType.internal ? <span className="badge">Herald operational</span> : null}
              </h2>
              {eventType.title || eventType.summary ? (
                <p className="lead">{eventType.summary ?? eventType.title}</p>
              ) : null}
              {eventType.description ? <p>{eventType.description}</p> : null}
              <dl className="facts">
                <dt>Channel</dt>
                <dd>{eventType.channel}</dd>
                <dt>Kafka topic</dt>
                <dd>
                  <code>{eventType.topic}</code>
                </dd>
                <dt>Ordered by</dt>
                <dd>{eventType.key === null ? 'no key' : <code>{eventType.key}</code>}</dd>
                <dt>TMF688 name</dt>
                <dd>{eventType.tmfEventType}</dd>
              </dl>
              <details>
                <summary>Payload schema</summary>
                <Json value={eventType.schema} label={`Payload schema of ${eventType.type}`} />
              </details>
              <details>
                <summary>Example payload</summary>
                {eventType.example === null ? (
                  <p className="muted">The contract gives no example.</p>
                ) : (
                  <Json value={eventType.example} label={`Example payload of ${eventType.type}`} />
                )}
              </details>
              {key === null ? null : (
                <p className="actions">
                  <Link
                    className="button"
                    to={pathOf({ page: 'new-subscription', types: eventType.type })}
                  >
                    Subscribe to {eventType.type}
                  </Link>
                  <Link to={pathOf({ page: 'tail', types: eventType.type })}>
                    Watch {eventType.type} live
                  </Link>
                </p>
              )}
            </article>
          </li>
        ))}
      </ul>
    </>
  );
}
