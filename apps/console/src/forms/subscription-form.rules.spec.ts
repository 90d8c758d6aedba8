import { compileEventFilter, compileTypePattern, validateTypePattern } from '@herald/contract';
import {
  DEFAULT_RETRY_SCHEDULE as HERALD_DEFAULT_RETRY_SCHEDULE,
  MAX_RETRY_SCHEDULE_LENGTH,
  parseRetrySchedule,
  parseWebhookUrl,
} from '@herald/delivery';
import type { Subscription } from '../api/herald.types';
import { filterProblems, parseFilterText } from './event-filter.rules';
import { globMatches, splitGlobs, typeGlobProblem } from './event-type-glob.rules';
import {
  DEFAULT_RETRY_SCHEDULE,
  EMPTY_FORM,
  createSubscriptionBody,
  fieldOfPointer,
  formValuesOf,
  matchedTypes,
  retryScheduleProblem,
  subscriptionFormProblems,
  typeGlobsProblem,
  updateSubscriptionBody,
  webhookUrlProblem,
} from './subscription-form.rules';

// The console repeats Herald's checks so partners see mistakes as they type. These tests hold
// the copies to the server's own rules: whatever one accepts, the other must too.

const FILTERS: unknown[] = [
  { 'data.total': { $gt: 100 } },
  { type: 'order.created' },
  { 'data.status': { $in: ['paid', 'shipped'] } },
  { $or: [{ 'data.total': { $lt: 5 } }, { subject: { $exists: true } }] },
  { 'data.name': { $regex: '^ab', $options: 'i' } },
  { 'data.name': { $not: { $regex: '^test' } } },
  { 'data.total': { $gtt: 5 } },
  { $where: 'x' },
  { 'data.total': { $not: 5 } },
  { 'data.a': { $options: 'i' } },
  { 'data.a': { $in: 'x' } },
  { 'data.a': { $exists: 'yes' } },
  { 'data a': 1 },
  { 'data.a': {} },
  { 'data.a': { nested: 1 } },
  { $and: [] },
  { 'data.a': [1, { b: 2 }] },
  [],
  'text',
  null,
];

describe('the console’s copy of Herald’s subscription rules', () => {
  it.each(FILTERS.map((filter) => [JSON.stringify(filter), filter]))(
    'judges the filter %s as Herald does',
    (_name, filter) => {
      const server = compileEventFilter(filter);
      const console = filterProblems(filter);
      expect(console).toEqual(server.ok ? [] : server.errors);
    },
  );

  // Regular expressions: Herald's RE2 and the browser's engine word their errors differently,
  // so only the verdict is compared.
  it.each([
    '^ab',
    '(a+)+',
    '(a|a)*$',
    '(?i)abc',
    '(?P<name>x)',
    '(?s:.)',
    '[',
    '(?=x)',
    '(?<!x)y',
    '(a)\\1',
    'a++',
    'a{2,}',
  ])('takes or refuses the regular expression %s as Herald does', (pattern) => {
    const filter = { 'data.name': { $regex: pattern } };
    expect(filterProblems(filter).length === 0).toBe(compileEventFilter(filter).ok);
  });

  it.each([
    'order.created',
    'order.*',
    'kitchen.**',
    '**',
    'order.',
    '.order',
    'order..created',
    'order.cre*',
    'order created',
    'order.créé',
    '',
  ])('judges the glob "%s" as Herald does', (glob) => {
    expect(typeGlobProblem(glob)).toBe(validateTypePattern(glob));
  });

  it.each([
    'https://example.com/hook',
    'http://127.0.0.1:8080/hook?x=1',
    'ftp://example.com/',
    'https://user:pw@example.com/',
    'example.com/hook',
    'not a url',
  ])('judges the URL %s as Herald does (by its form)', (url) => {
    let serverAccepts = true;
    try {
      parseWebhookUrl(url);
    } catch {
      serverAccepts = false;
    }
    expect(webhookUrlProblem(url) === undefined).toBe(serverAccepts);
  });

  it.each(['5s, 5m, 30m', '1s', '500ms 2h', '1d', '8d', '0s', '5 s', '5x', 'soon'])(
    'judges the retry schedule "%s" as Herald does',
    (text) => {
      let serverAccepts = true;
      try {
        parseRetrySchedule(splitGlobs(text));
      } catch {
        serverAccepts = false;
      }
      expect(retryScheduleProblem(text) === undefined).toBe(serverAccepts);
    },
  );

  it('takes at most as many retries as subscription-api and the engine accept', () => {
    const schedule = (entries: number) => Array.from({ length: entries }, () => '1m').join(', ');
    expect(MAX_RETRY_SCHEDULE_LENGTH).toBe(20);
    expect(retryScheduleProblem(schedule(20))).toBeUndefined();
    expect(retryScheduleProblem(schedule(21))).toBe('At most 20 retries.');
  });

  it('knows Herald’s default retry schedule', () => {
    expect(DEFAULT_RETRY_SCHEDULE).toEqual(HERALD_DEFAULT_RETRY_SCHEDULE);
  });

  it('matches globs against types like Herald', () => {
    expect(globMatches('order.*', 'order.created')).toBe(true);
    expect(globMatches('order.*', 'order.item.added')).toBe(false);
    expect(globMatches('order.**', 'order.item.added')).toBe(true);
    expect(globMatches('**.added', 'order.item.added')).toBe(true);
    expect(globMatches('kitchen.**', 'kitchen')).toBe(true);
    expect(globMatches('*', 'order.created')).toBe(false);
  });

  it('matches globs against types like Herald, every combination of a few segments', () => {
    const segments = ['*', '**', 'a', 'b'];
    const globs = segments.flatMap((one) =>
      [one, ...segments.flatMap((two) => segments.map((three) => `${one}.${two}.${three}`))].concat(
        segments.map((two) => `${one}.${two}`),
      ),
    );
    const types = ['a', 'b', 'a.b', 'b.a', 'a.a.b', 'a.b.a.b', 'a.b.c.d.a'];
    for (const glob of globs)
      for (const type of types)
        expect([glob, type, globMatches(glob, type)]).toEqual([
          glob,
          type,
          compileTypePattern(glob)(type),
        ]);
  });

  // The form checks the globs of a link (`/console/subscriptions/new?types=…`) against the whole
  // catalog while the page renders: a glob Herald takes must not freeze the tab. The old
  // backtracking matcher tried every split of the type among the `**`s (never finished here).
  it('matches a glob of many "**" against a long type like Herald does', () => {
    const glob = `${'**.a.'.repeat(50)}b`;
    expect(validateTypePattern(glob)).toBeUndefined();
    const type = `${'a.'.repeat(60)}c`;
    expect(globMatches(glob, type)).toBe(false);
    expect(compileTypePattern(glob)(type)).toBe(false);
    expect(globMatches(glob, `${'a.'.repeat(60)}b`)).toBe(true);
  });
});

describe('subscription form', () => {
  const catalog = ['order.created', 'order.paid', 'kitchen.order.ready'];
  const filled = {
    ...EMPTY_FORM,
    url: 'https://example.com/hook',
    types: 'order.*',
    filter: '{"data.total": {"$gt": 10}}',
    retrySchedule: '1s, 5s',
    description: 'Orders',
  };

  const subscription: Subscription = {
    id: 'sub_1',
    tenant: 't',
    kind: 'webhook',
    url: 'https://example.com/hook',
    types: ['order.*'],
    filter: null,
    format: 'cloudevents',
    ordering: 'key',
    from: 'latest',
    maxInFlight: 16,
    maxPerSecond: null,
    retry: { schedule: ['5s', '5m'] },
    headers: {},
    auth: null,
    verification: { mode: 'none', state: 'not_required', checkedAt: null, failure: null },
    description: null,
    metadata: {},
    status: 'active',
    statusReason: null,
    createdAt: '2025-01-01T00:00:00Z',
    updatedAt: '2025-01-01T00:00:00Z',
    version: 3,
  };

  it('says what is wrong with each field while the partner types', () => {
    expect(subscriptionFormProblems(filled, 'create', catalog)).toEqual({});
    const problems = subscriptionFormProblems(
      {
        ...filled,
        url: 'ftp://x',
        types: 'order.*, nothing.*',
        filter: '{"data.total": {"$gtt": 10}}',
        retrySchedule: 'soon',
        maxInFlight: '0',
      },
      'create',
      catalog,
    );
    expect(problems.url).toMatch(/http:\/\/ or https:\/\//);
    expect(problems.types).toBe('"nothing.*" matches no event type in the catalog.');
    expect(problems.filter).toBe(
      'At /data.total/$gtt, the filter: unknown operator $gtt; allowed: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $and $or $not',
    );
    expect(problems.retrySchedule).toMatch(/"soon" is not a duration/);
    expect(problems.maxInFlight).toBe('Enter a whole number from 1 to 1000.');
    expect(parseFilterText('{"a":')).toMatchObject({ ok: false });
    expect(typeGlobsProblem('', null)).toMatch(/at least one/);
  });

  // subscription-api's request schema (create-subscription.dto.ts, which an app cannot import)
  // takes globs of up to 256 characters, as the contract's glob syntax does, a maxPerSecond from 1
  // to 10000, and a description of at most 500 characters after the form trims it.
  it('refuses what subscription-api refuses, and takes what it takes', () => {
    const glob = (length: number) => `order.${'x'.repeat(length - 'order.'.length)}`;
    expect(validateTypePattern(glob(256))).toBeUndefined();
    expect(typeGlobsProblem(glob(256), null)).toBeUndefined();
    expect(typeGlobsProblem(glob(257), null)).toBe(
      `"${glob(257)}" is not a glob: ${validateTypePattern(glob(257))}.`,
    );
    for (const taken of ['1', '2.5', '10000', ''])
      expect(
        subscriptionFormProblems({ ...filled, maxPerSecond: taken }, 'create', catalog),
      ).toEqual({});
    for (const refused of ['0.000000001', '0.5', '0', '-1', '10001', 'x'])
      expect(
        subscriptionFormProblems({ ...filled, maxPerSecond: refused }, 'create', catalog),
      ).toEqual({ maxPerSecond: 'Enter a number from 1 to 10000.' });
    const padded = { ...filled, description: `  ${'d'.repeat(500)}  ` };
    expect(subscriptionFormProblems(padded, 'create', catalog)).toEqual({});
    expect(createSubscriptionBody(padded).description).toBe('d'.repeat(500));
    expect(
      subscriptionFormProblems({ ...filled, description: 'd'.repeat(501) }, 'create', catalog),
    ).toEqual({ description: 'At most 500 characters.' });
  });

  it('builds the create body Herald expects', () => {
    expect(createSubscriptionBody(filled)).toEqual({
      kind: 'webhook',
      url: 'https://example.com/hook',
      types: ['order.*'],
      filter: { 'data.total': { $gt: 10 } },
      format: 'cloudevents',
      ordering: 'key',
      from: 'latest',
      maxInFlight: 16,
      maxPerSecond: null,
      retry: { schedule: ['1s', '5s'] },
      description: 'Orders',
    });
    // subscription-api refuses the webhook-only fields for a stream (400 "applies to webhooks
    // only"), however the hidden fields were left.
    const stream = {
      ...filled,
      kind: 'stream' as const,
      retrySchedule: '',
      ordering: 'none' as const,
      maxInFlight: '0',
      maxPerSecond: '0.5',
      format: 'standard' as const,
    };
    expect(subscriptionFormProblems(stream, 'create', catalog)).toEqual({});
    expect(createSubscriptionBody(stream)).toEqual({
      kind: 'stream',
      types: ['order.*'],
      filter: { 'data.total': { $gt: 10 } },
      from: 'latest',
      description: 'Orders',
    });
    expect(matchedTypes('order.*, kitchen.**', catalog)).toEqual(catalog);
  });

  it('patches only what the partner changed', () => {
    const values = formValuesOf(subscription);
    expect(updateSubscriptionBody(values, subscription)).toEqual({});
    expect(
      updateSubscriptionBody(
        { ...values, description: 'Renamed', filter: '{"type": "order.paid"}' },
        subscription,
      ),
    ).toEqual({ description: 'Renamed', filter: { type: 'order.paid' } });
    // A stream's PATCH never names a webhook-only field, which subscription-api refuses for it.
    const stream = { ...subscription, kind: 'stream' as const, url: null };
    expect(
      updateSubscriptionBody(
        { ...formValuesOf(stream), ordering: 'none', maxInFlight: '4', maxPerSecond: '3' },
        stream,
      ),
    ).toEqual({});
  });

  it('asks for Herald’s default schedule when the partner clears it while editing', () => {
    const cleared = { ...formValuesOf(subscription), retrySchedule: '' };
    expect(updateSubscriptionBody(cleared, subscription)).toEqual({
      retry: { schedule: DEFAULT_RETRY_SCHEDULE },
    });
    // Already on the default: nothing to change.
    const onDefault = { ...subscription, retry: { schedule: [...DEFAULT_RETRY_SCHEDULE] } };
    expect(updateSubscriptionBody(cleared, onDefault)).toEqual({});
    // A stream subscription has no retry schedule to send.
    const stream = { ...subscription, kind: 'stream' as const, url: null };
    expect(updateSubscriptionBody({ ...formValuesOf(stream), retrySchedule: '' }, stream)).toEqual(
      {},
    );
  });

  it('puts a problem’s pointer under the field it names', () => {
    expect(fieldOfPointer('/types/1')).toBe('types');
    expect(fieldOfPointer('/retry/schedule')).toBe('retrySchedule');
    expect(fieldOfPointer('/filter/data.total/$gtt')).toBe('filter');
    expect(fieldOfPointer('/auth/token')).toBe('authToken');
    expect(fieldOfPointer('/auth/username')).toBe('authUsername');
    expect(fieldOfPointer('/auth')).toBe('auth');
    expect(fieldOfPointer('')).toBeUndefined();
  });

  // subscription-api's `auth` (create-subscription.dto.ts): a bearer token of 1 to 4096 visible
  // ASCII characters; a basic user name of 1 to 256 characters without ":" or control characters
  // and a password of at most 1024.
  it('checks endpoint credentials as subscription-api does, for webhooks only', () => {
    const problems = (auth: Partial<typeof filled>) =>
      subscriptionFormProblems({ ...filled, ...auth }, 'create', catalog);
    for (const token of ['t', 'abc.DEF-123_~!', 'x'.repeat(4096)])
      expect(problems({ auth: 'bearer', authToken: token })).toEqual({});
    expect(problems({ auth: 'bearer', authToken: '' })).toEqual({
      authToken: 'Enter the token your endpoint expects.',
    });
    expect(problems({ auth: 'bearer', authToken: 'x'.repeat(4097) })).toEqual({
      authToken: 'At most 4096 characters.',
    });
    for (const token of ['two words', 'line\nbreak', 'é'])
      expect(problems({ auth: 'bearer', authToken: token }).authToken).toMatch(/Visible ASCII/);
    for (const [username, password] of [
      ['u', ''],
      ['ü ser', 'p:w'],
      ['u'.repeat(256), 'p'.repeat(1024)],
    ])
      expect(problems({ auth: 'basic', authUsername: username, authPassword: password })).toEqual(
        {},
      );
    expect(problems({ auth: 'basic', authUsername: '', authPassword: 'p'.repeat(1025) })).toEqual({
      authUsername: 'Enter the user name your endpoint expects.',
      authPassword: 'At most 1024 characters.',
    });
    expect(problems({ auth: 'basic', authUsername: 'a:b' }).authUsername).toMatch(/No ":"/);
    expect(problems({ auth: 'basic', authUsername: 'a\u0007' }).authUsername).toMatch(/No ":"/);
    expect(problems({ auth: 'basic', authUsername: 'u'.repeat(257) }).authUsername).toBe(
      'At most 256 characters.',
    );
    // A stream has no endpoint: whatever the hidden fields hold is neither checked nor sent.
    const stream = { ...filled, kind: 'stream' as const, auth: 'bearer' as const, authToken: '' };
    expect(subscriptionFormProblems(stream, 'create', catalog)).toEqual({});
    expect(createSubscriptionBody(stream).auth).toBeUndefined();
  });

  it('sends endpoint credentials when set, keeps the stored ones unless told, and removes them with none', () => {
    expect(createSubscriptionBody(filled).auth).toBeUndefined();
    expect(createSubscriptionBody({ ...filled, auth: 'bearer', authToken: 'tok' }).auth).toEqual({
      type: 'bearer',
      token: 'tok',
    });
    expect(
      createSubscriptionBody({ ...filled, auth: 'basic', authUsername: 'u', authPassword: 'p' })
        .auth,
    ).toEqual({ type: 'basic', username: 'u', password: 'p' });

    const withAuth: Subscription = { ...subscription, auth: { type: 'bearer' } };
    const editing = formValuesOf(withAuth);
    expect(editing.auth).toBe('keep');
    expect(formValuesOf(subscription).auth).toBe('none');
    // Kept: nothing about auth is sent, whatever else changes.
    expect(updateSubscriptionBody({ ...editing, description: 'x' }, withAuth)).toEqual({
      description: 'x',
    });
    // New credentials are sent even of the same type: the stored ones are never shown to compare.
    expect(
      updateSubscriptionBody({ ...editing, auth: 'bearer', authToken: 'new' }, withAuth),
    ).toEqual({ auth: { type: 'bearer', token: 'new' } });
    expect(updateSubscriptionBody({ ...editing, auth: 'none' }, withAuth)).toEqual({ auth: null });
    // None of them to remove.
    expect(updateSubscriptionBody(formValuesOf(subscription), subscription)).toEqual({});
  });
});
