import { useState } from 'react';
import type { PingResult, Subscription, SubscriptionStats } from '../api/herald.types';
import { Json, StatusBadge, Time } from '../components/format';
import { Link } from '../components/link';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { useAction, useLoad, usePageTitle } from '../hooks';
import { pathOf } from '../routes';
import { DeadLettersSection } from './subscription-dead-letters.section';
import { DeliveryLogSection } from './subscription-deliveries.section';
import { ReplaySection } from './subscription-replay.section';
import { RevealedSecret, RotateSecretSection } from './subscription-secret.section';
import { subscriptionName } from './subscriptions.page';

const STATS_EVERY_MS = 2000;

function pingOutcome(ping: PingResult): string {
  const took = `in ${ping.durationMs} ms`;
  if (ping.delivered)
    return `Ping delivered: your endpoint answered HTTP ${ping.statusCode} ${took}.`;
  if (ping.statusCode !== null)
    return `Ping failed: your endpoint answered HTTP ${ping.statusCode} ${took}${ping.error ? ` (${ping.error})` : ''}.`;
  return `Ping failed: ${ping.error ?? 'no answer'}.`;
}

function StatsSection({ id }: { id: string }) {
  const { api } = useConsole();
  const stats = useLoad(() => api.stats(id), [api, id], STATS_EVERY_MS);
  const numbers: readonly [keyof SubscriptionStats, string][] = [
    ['delivered', 'Delivered'],
    ['failed', 'Failed attempts'],
    ['pending', 'Waiting to retry'],
    ['deadLettered', 'Dead letters'],
    ['lagEvents', 'Not yet delivered'],
  ];
  return (
    <section aria-labelledby="stats-heading">
      <h2 id="stats-heading" className="visually-hidden">
        Statistics
      </h2>
      <ProblemAlert problem={stats.problem} label="The statistics could not be loaded." />
      <dl className="stats">
        {numbers.map(([field, label]) => (
          <div key={field}>
            <dt>{label}</dt>
            <dd>{stats.data === undefined ? '…' : String(stats.data[field])}</dd>
          </div>
        ))}
        <div>
          <dt>Last success</dt>
          <dd>{stats.data === undefined ? '…' : <Time value={stats.data.lastSuccessAt} />}</dd>
        </div>
      </dl>
    </section>
  );
}

function Details({ subscription }: { subscription: Subscription }) {
  const verification = subscription.verification;
  return (
    <dl className="facts">
      <dt>Id</dt>
      <dd>
        <code>{subscription.id}</code>
      </dd>
      {subscription.url === null ? null : (
        <>
          <dt>Webhook URL</dt>
          <dd className="wrap">{subscription.url}</dd>
        </>
      )}
      <dt>Event types</dt>
      <dd>
        <code>{subscription.types.join(', ')}</code>
      </dd>
      <dt>Filter</dt>
      <dd>
        {subscription.filter === null ? (
          <span className="muted">none: every event of these types</span>
        ) : (
          <code>{JSON.stringify(subscription.filter)}</code>
        )}
      </dd>
      {subscription.kind === 'webhook' ? (
        <>
          <dt>Body format</dt>
          <dd>{subscription.format}</dd>
          <dt>Endpoint authentication</dt>
          <dd>
            {subscription.auth === null
              ? 'none'
              : subscription.auth.type === 'bearer'
                ? 'bearer token (stored encrypted)'
                : 'user name and password (stored encrypted)'}
          </dd>
          <dt>Retry schedule</dt>
          <dd>{subscription.retry.schedule.join(', ')}, then dead-letter</dd>
          <dt>Ownership check</dt>
          <dd>
            {verification.mode} ({verification.state.replace('_', ' ')})
            {verification.failure ? (
              <span className="field-error"> {verification.failure}</span>
            ) : null}
          </dd>
        </>
      ) : null}
      {subscription.kind === 'webhook' ? (
        <>
          <dt>Ordering</dt>
          <dd>{subscription.ordering === 'key' ? 'in order per key' : 'none'}</dd>
          <dt>Deliveries at once</dt>
          <dd>
            {subscription.maxInFlight}
            {subscription.maxPerSecond === null
              ? ''
              : `, at most ${subscription.maxPerSecond} a second`}
          </dd>
        </>
      ) : null}
      <dt>Created</dt>
      <dd>
        <Time value={subscription.createdAt} />
      </dd>
      {Object.keys(subscription.headers).length > 0 ? (
        <>
          <dt>Extra headers</dt>
          <dd>
            <Json value={subscription.headers} label="Extra headers" />
          </dd>
        </>
      ) : null}
    </dl>
  );
}

/** One subscription: what it is, how delivery goes, and the partner's own fixes. */
export function SubscriptionPage({ id }: { id: string }) {
  const { api, navigate, takeSecret } = useConsole();
  const loaded = useLoad(() => api.getSubscription(id), [api, id]);
  const [current, setCurrent] = useState<Subscription | null>(null);
  const [secret, setSecret] = useState<string | null>(() => takeSecret(id));
  const [ping, setPing] = useState<PingResult | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const action = useAction();
  const subscription = current ?? loaded.data ?? null;
  usePageTitle(subscription ? subscriptionName(subscription) : 'Subscription');

  if (subscription === null) {
    return (
      <>
        <h1 tabIndex={-1}>Subscription</h1>
        <ProblemAlert problem={loaded.problem} label="The subscription could not be loaded." />
        {loaded.problem ? null : <p role="status">Loading…</p>}
      </>
    );
  }

  const webhook = subscription.kind === 'webhook';
  const change = async (run: () => Promise<Subscription>) => {
    const updated = await action.run(run);
    if (updated) setCurrent(updated);
  };
  const sendPing = async () => {
    setPing(null);
    const result = await action.run(() => api.sendTestPing(id));
    if (result) setPing(result);
  };
  const remove = async () => {
    const done = await action.run(async () => {
      await api.deleteSubscription(id);
      return true;
    });
    if (done) navigate(pathOf({ page: 'subscriptions' }));
  };

  return (
    <>
      <p className="breadcrumb">
        <Link to={pathOf({ page: 'subscriptions' })}>Subscriptions</Link>
      </p>
      <div className="page-head">
        <h1 tabIndex={-1}>
          {subscriptionName(subscription)} <StatusBadge status={subscription.status} />
        </h1>
        <div className="actions">
          {webhook ? (
            <button
              type="button"
              className="button-primary"
              onClick={() => void sendPing()}
              disabled={action.busy}
            >
              Send test ping
            </button>
          ) : null}
          {subscription.status === 'active' || subscription.status === 'pending' ? (
            <button
              type="button"
              onClick={() => void change(() => api.pause(id))}
              disabled={action.busy}
            >
              Pause
            </button>
          ) : (
            <button
              type="button"
              onClick={() => void change(() => api.resume(id))}
              disabled={action.busy}
            >
              Resume
            </button>
          )}
          <Link className="button" to={pathOf({ page: 'edit-subscription', id })}>
            Edit
          </Link>
          <button
            type="button"
            className="button-danger"
            onClick={() => setConfirmDelete(true)}
            disabled={action.busy}
          >
            Delete
          </button>
        </div>
      </div>
      {subscription.statusReason ? (
        <p className="alert alert-warning">
          {subscription.status === 'pending' ? 'Waiting: ' : 'Why: '}
          {subscription.statusReason}
        </p>
      ) : null}
      {confirmDelete ? (
        <div className="alert alert-error" role="alertdialog" aria-labelledby="delete-question">
          <p id="delete-question">
            Delete this subscription with its delivery log and dead letters? Herald stops sending at
            once; this cannot be undone.
          </p>
          <div className="actions">
            <button type="button" className="button-danger" onClick={() => void remove()} autoFocus>
              Delete for good
            </button>
            <button type="button" onClick={() => setConfirmDelete(false)}>
              Keep it
            </button>
          </div>
        </div>
      ) : null}
      <ProblemAlert problem={action.problem} />
      <p
        role="status"
        className={ping === null ? undefined : ping.delivered ? 'ok' : 'field-error'}
      >
        {ping === null ? null : pingOutcome(ping)}
      </p>
      {secret === null ? null : <RevealedSecret secret={secret} onHide={() => setSecret(null)} />}
      <StatsSection id={id} />
      <div className="columns">
        <section className="card" aria-labelledby="details-heading">
          <h2 id="details-heading">Settings</h2>
          <Details subscription={subscription} />
        </section>
        {webhook ? (
          <RotateSecretSection
            id={id}
            auth={subscription.auth}
            onRotated={(secret) => {
              setSecret(secret);
              // Its endpoint credentials may have changed with it.
              setCurrent(null);
              loaded.reload();
            }}
          />
        ) : null}
      </div>
      {webhook ? <DeliveryLogSection id={id} /> : null}
      {webhook ? <DeadLettersSection id={id} /> : null}
      {webhook ? <ReplaySection id={id} /> : null}
      {webhook ? null : (
        <p className="card">
          A stream subscription is read over SSE, WebSocket or polling with{' '}
          <code>?subscription={subscription.id}</code>; Herald resumes from the last cursor you
          acknowledged.
        </p>
      )}
    </>
  );
}
