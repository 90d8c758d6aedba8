/** Where subscription-api serves the console (see apps/subscription-api/src/console). */
export const CONSOLE_BASE = '/console';

export type Route =
  | { readonly page: 'sign-in' }
  | { readonly page: 'catalog' }
  | { readonly page: 'subscriptions' }
  | { readonly page: 'new-subscription'; readonly types: string | null }
  | { readonly page: 'subscription'; readonly id: string }
  | { readonly page: 'edit-subscription'; readonly id: string }
  | { readonly page: 'tail'; readonly types: string | null }
  | { readonly page: 'not-found'; readonly path: string };

/** The page a location shows. `/console` itself is the subscriptions list. */
export function routeOf(pathname: string, search = ''): Route {
  const params = new URLSearchParams(search);
  if (pathname !== CONSOLE_BASE && !pathname.startsWith(`${CONSOLE_BASE}/`))
    return { page: 'not-found', path: pathname };
  const parts = pathname
    .slice(CONSOLE_BASE.length)
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  const [first, second, third, ...rest] = parts;
  if (first === undefined) return { page: 'subscriptions' };
  if (rest.length > 0) return { page: 'not-found', path: pathname };
  switch (first) {
    case 'sign-in':
      return second === undefined ? { page: 'sign-in' } : { page: 'not-found', path: pathname };
    case 'catalog':
      return second === undefined ? { page: 'catalog' } : { page: 'not-found', path: pathname };
    case 'tail':
      return second === undefined
        ? { page: 'tail', types: params.get('types') }
        : { page: 'not-found', path: pathname };
    case 'subscriptions':
      if (second === undefined) return { page: 'subscriptions' };
      if (second === 'new' && third === undefined)
        return { page: 'new-subscription', types: params.get('types') };
      if (third === undefined) return { page: 'subscription', id: second };
      if (third === 'edit') return { page: 'edit-subscription', id: second };
      return { page: 'not-found', path: pathname };
    default:
      return { page: 'not-found', path: pathname };
  }
}

/** The path (with query) of a route, for links and history. */
export function pathOf(route: Route): string {
  const withTypes = (path: string, types: string | null) =>
    types === null ? path : `${path}?${new URLSearchParams({ types }).toString()}`;
  switch (route.page) {
    case 'sign-in':
      return `${CONSOLE_BASE}/sign-in`;
    case 'catalog':
      return `${CONSOLE_BASE}/catalog`;
    case 'subscriptions':
      return `${CONSOLE_BASE}/subscriptions`;
    case 'new-subscription':
      return withTypes(`${CONSOLE_BASE}/subscriptions/new`, route.types);
    case 'subscription':
      return `${CONSOLE_BASE}/subscriptions/${encodeURIComponent(route.id)}`;
    case 'edit-subscription':
      return `${CONSOLE_BASE}/subscriptions/${encodeURIComponent(route.id)}/edit`;
    case 'tail':
      return withTypes(`${CONSOLE_BASE}/tail`, route.types);
    case 'not-found':
      return route.path;
  }
}
