import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { ApiProblem } from './api/api-problem';
import { HeraldApi } from './api/herald-api';
import { Link } from './components/link';
import { ConsoleContext, type ConsoleContextValue } from './console-context';
import { useLoad } from './hooks';
import { CatalogPage } from './pages/catalog.page';
import { LiveTailPage } from './pages/live-tail.page';
import { SignInPage } from './pages/sign-in.page';
import { SubscriptionFormPage } from './pages/subscription-form.page';
import { SubscriptionPage } from './pages/subscription.page';
import { SubscriptionsPage } from './pages/subscriptions.page';
import { CONSOLE_BASE, pathOf, routeOf, type Route } from './routes';

const KEY_STORAGE = 'herald.console.apiKey';

/** The key lives in sessionStorage: this tab only, gone when it closes. */
function storedKey(): string | null {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE);
  } catch {
    // Storage blocked by the browser's settings: the partner signs in again on each load.
    return null;
  }
}

function storeKey(key: string | null): void {
  try {
    if (key === null) window.sessionStorage.removeItem(KEY_STORAGE);
    else window.sessionStorage.setItem(KEY_STORAGE, key);
  } catch {
    // Storage blocked: the key stays in memory for this page only.
  }
}

/** Where fanout is when the deployment does not say: this host, fanout's default port. */
function defaultStreamsUrl(): string {
  return `${window.location.protocol}//${window.location.hostname}:3002`;
}

const NAV: readonly { route: Route; label: string; pages: readonly Route['page'][] }[] = [
  {
    route: { page: 'subscriptions' },
    label: 'Subscriptions',
    pages: ['subscriptions', 'subscription', 'new-subscription', 'edit-subscription'],
  },
  { route: { page: 'catalog' }, label: 'Event catalog', pages: ['catalog'] },
  { route: { page: 'tail', types: null }, label: 'Live tail', pages: ['tail'] },
];

export function App() {
  const [key, setKey] = useState<string | null>(storedKey);
  const [location, setLocation] = useState(() => ({
    pathname: window.location.pathname,
    search: window.location.search,
  }));
  const [signOutProblem, setSignOutProblem] = useState<ApiProblem | undefined>(undefined);
  const [streamsUrl, setStreamsUrl] = useState(defaultStreamsUrl);
  const secrets = useRef(new Map<string, string>());

  useEffect(() => {
    const onPopState = () =>
      setLocation({ pathname: window.location.pathname, search: window.location.search });
    window.addEventListener('popstate', onPopState);
    return () => window.removeEventListener('popstate', onPopState);
  }, []);

  useEffect(() => {
    let gone = false;
    fetch(`${CONSOLE_BASE}/config.json`)
      .then(async (response) => {
        if (!response.ok) return;
        const settings = (await response.json()) as { streamsUrl?: unknown };
        if (!gone && typeof settings.streamsUrl === 'string') setStreamsUrl(settings.streamsUrl);
      })
      // Served by `vite` rather than Herald: the default (this host, port 3002) stands, and the
      // live tail says so in its own error if fanout is not there.
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, []);

  const navigate = useCallback((path: string) => {
    window.history.pushState(null, '', path);
    const url = new URL(path, window.location.href);
    setLocation({ pathname: url.pathname, search: url.search });
    window.scrollTo(0, 0);
  }, []);

  const signOut = useCallback((problem?: ApiProblem) => {
    storeKey(null);
    setKey(null);
    setSignOutProblem(problem);
  }, []);

  const signIn = useCallback((newKey: string) => {
    storeKey(newKey);
    setKey(newKey);
    setSignOutProblem(undefined);
  }, []);

  const api = useMemo(
    () => new HeraldApi({ baseUrl: '', key, onUnauthorized: (problem) => signOut(problem) }),
    [key, signOut],
  );
  const catalog = useLoad(() => new HeraldApi({ baseUrl: '', key: null }).eventTypes(), []);

  const context = useMemo<ConsoleContextValue>(
    () => ({
      api,
      key,
      streamsUrl,
      catalog: catalog.data ?? null,
      navigate,
      signIn,
      signOut,
      revealSecret: (id, secret) => secrets.current.set(id, secret),
      takeSecret: (id) => {
        const secret = secrets.current.get(id) ?? null;
        secrets.current.delete(id);
        return secret;
      },
    }),
    [api, key, streamsUrl, catalog.data, navigate, signIn, signOut],
  );

  const route = routeOf(location.pathname, location.search);
  const needsKey = route.page !== 'catalog' && route.page !== 'not-found';
  const showSignIn = (needsKey && key === null) || (route.page === 'sign-in' && key === null);

  useEffect(() => {
    if (route.page === 'sign-in' && key !== null) navigate(pathOf({ page: 'subscriptions' }));
  }, [route.page, key, navigate]);

  // A new page: move focus to its heading, so screen readers announce it and Tab starts there.
  const pageKey = `${location.pathname}|${showSignIn}`;
  useEffect(() => {
    document.querySelector<HTMLElement>('main h1')?.focus();
  }, [pageKey]);

  let page;
  if (showSignIn) page = <SignInPage problem={signOutProblem} />;
  else
    switch (route.page) {
      case 'sign-in':
      case 'subscriptions':
        page = <SubscriptionsPage />;
        break;
      case 'catalog':
        page = <CatalogPage catalog={catalog} />;
        break;
      case 'new-subscription':
        page = <SubscriptionFormPage key="new" mode="create" types={route.types} />;
        break;
      case 'edit-subscription':
        page = <SubscriptionFormPage key={route.id} mode="edit" id={route.id} />;
        break;
      case 'subscription':
        page = <SubscriptionPage key={route.id} id={route.id} />;
        break;
      case 'tail':
        page = <LiveTailPage initialTypes={route.types} />;
        break;
      case 'not-found':
        page = (
          <>
            <h1 tabIndex={-1}>Page not found</h1>
            <p>
              The console has no page at <code>{route.path}</code>.{' '}
              <Link to={pathOf({ page: 'subscriptions' })}>Go to your subscriptions</Link>.
            </p>
          </>
        );
        break;
    }

  return (
    <ConsoleContext.Provider value={context}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="top">
        <div className="container top-inner">
          <Link to={pathOf({ page: 'subscriptions' })} className="brand">
            Herald <span>console</span>
          </Link>
          <nav aria-label="Main">
            <ul>
              {NAV.map((item) => (
                <li key={item.label}>
                  <Link
                    to={pathOf(item.route)}
                    aria-current={
                      item.pages.includes(route.page) && !showSignIn ? 'page' : undefined
                    }
                  >
                    {item.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          {key === null ? null : (
            <button type="button" className="button-on-dark" onClick={() => signOut()}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main id="main" className="container">
        {page}
      </main>
      <footer className="container footer">
        <a href="/api-docs">REST API reference</a> · <a href="/docs">Event contract</a>
      </footer>
    </ConsoleContext.Provider>
  );
}
