import { pathOf, routeOf, type Route } from './routes';

describe('console routes', () => {
  it('reads every page from its path and writes it back', () => {
    const routes: Route[] = [
      { page: 'sign-in' },
      { page: 'catalog' },
      { page: 'subscriptions' },
      { page: 'new-subscription', types: null },
      { page: 'new-subscription', types: 'order.*' },
      { page: 'subscription', id: 'sub_01H' },
      { page: 'edit-subscription', id: 'sub_01H' },
      { page: 'tail', types: 'kitchen.**' },
    ];
    for (const route of routes) {
      const url = new URL(pathOf(route), 'http://console.test');
      expect(routeOf(url.pathname, url.search)).toEqual(route);
    }
  });

  it('treats /console itself as the subscriptions list and the rest as not found', () => {
    expect(routeOf('/console')).toEqual({ page: 'subscriptions' });
    expect(routeOf('/console/')).toEqual({ page: 'subscriptions' });
    expect(routeOf('/console/nope')).toEqual({ page: 'not-found', path: '/console/nope' });
    expect(routeOf('/console/subscriptions/a/b/c')).toMatchObject({ page: 'not-found' });
    expect(routeOf('/elsewhere')).toMatchObject({ page: 'not-found' });
  });
});
