import { useState } from 'react';
import type { Subscription } from '../api/herald.types';
import { StatusBadge, Time } from '../components/format';
import { Link } from '../components/link';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { useAction, useLoad, usePageTitle } from '../hooks';
import { pathOf } from '../routes';

/** What a subscription is called in lists: its description, else its id. */
export function subscriptionName(subscription: Subscription): string {
  return subscription.description ?? subscription.id;
}

/** The tenant's subscriptions, oldest first, a page at a time. */
export function SubscriptionsPage() {
  const { api } = useConsole();
  usePageTitle('Subscriptions');
  const first = useLoad(() => api.listSubscriptions(), [api]);
  const [more, setMore] = useState<{ items: Subscription[]; nextCursor: string | null } | null>(
    null,
  );
  const loadMore = useAction();
  const items = [...(first.data?.items ?? []), ...(more?.items ?? [])];
  const nextCursor = more ? more.nextCursor : (first.data?.nextCursor ?? null);

  const showMore = async () => {
    if (nextCursor === null) return;
    const page = await loadMore.run(() => api.listSubscriptions(nextCursor));
    if (page)
      setMore({ items: [...(more?.items ?? []), ...page.items], nextCursor: page.nextCursor });
  };

  return (
    <>
      <div className="page-head">
        <h1 tabIndex={-1}>Subscriptions</h1>
        <Link
          className="button button-primary"
          to={pathOf({ page: 'new-subscription', types: null })}
        >
          New subscription
        </Link>
      </div>
      <ProblemAlert problem={first.problem} label="Your subscriptions could not be loaded." />
      {first.data !== undefined && items.length === 0 ? (
        <div className="card">
          <p>
            No subscriptions yet. Find the events you need in the{' '}
            <Link to={pathOf({ page: 'catalog' })}>event catalog</Link>, then create a webhook or a
            stream subscription.
          </p>
        </div>
      ) : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Your subscriptions</caption>
            <thead>
              <tr>
                <th scope="col">Subscription</th>
                <th scope="col">Status</th>
                <th scope="col">Kind</th>
                <th scope="col">Event types</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {items.map((subscription) => (
                <tr key={subscription.id}>
                  <th scope="row">
                    <Link to={pathOf({ page: 'subscription', id: subscription.id })}>
                      {subscriptionName(subscription)}
                    </Link>
                  </th>
                  <td>
                    <StatusBadge status={subscription.status} />
                  </td>
                  <td>{subscription.kind}</td>
                  <td>
                    <code>{subscription.types.join(', ')}</code>
                  </td>
                  <td className="wrap">
                    {subscription.url ?? <span className="muted">stream</span>}
                  </td>
                  <td>
                    <Time value={subscription.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <ProblemAlert problem={loadMore.problem} label="More subscriptions could not be loaded." />
      {nextCursor === null ? null : (
        <button type="button" onClick={() => void showMore()} disabled={loadMore.busy}>
          Show more subscriptions
        </button>
      )}
    </>
  );
}
