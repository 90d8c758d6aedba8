import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import {
  screenshotDir,
  startConsoleWorld,
  unlabelledControls,
  waitFor,
  type ConsoleWorld,
} from './console.harness';

// The partner console in Debian's Chromium against the whole gateway: sign in, the catalog, a
// webhook subscription with its test ping, a dead letter redriven, a replay, the live tail, and
// what a partner sees when Herald says no. The screenshots in docs/console/ come from here
// (HERALD_UPDATE_SCREENSHOTS=true).
jest.setTimeout(90_000);

const SHOTS = screenshotDir(process.env.HERALD_UPDATE_SCREENSHOTS === 'true');

describe('the partner console', () => {
  let world: ConsoleWorld;
  let context: BrowserContext;
  let page: Page;
  let pageErrors: string[];

  beforeAll(async () => {
    world = await startConsoleWorld();
  }, 150_000);

  afterAll(async () => {
    await world?.stop();
  });

  beforeEach(async () => {
    // A laptop screen; UTC so times typed into the page mean what the test means.
    context = await world.browser.newContext({
      viewport: { width: 1280, height: 800 },
      timezoneId: 'UTC',
      locale: 'en-GB',
    });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // A refused request is logged by the browser itself; the page shows it in words.
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource'))
        pageErrors.push(message.text());
    });
  });

  afterEach(async () => {
    await context?.close();
    // No script errors and no Content-Security-Policy violations on any page.
    expect(pageErrors).toEqual([]);
  });

  const shoot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`) });

  async function expectAccessible(): Promise<void> {
    expect(await unlabelledControls(page)).toEqual([]);
  }

  async function signIn(path = '/subscriptions', key = world.partnerKey): Promise<void> {
    await page.goto(`${world.consoleUrl}${path}`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1 }).filter({ hasNotText: 'Sign in' }).waitFor();
  }

  async function nav(name: string): Promise<void> {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name }).click();
  }

  async function openSubscription(description: string): Promise<void> {
    await nav('Subscriptions');
    await page.getByRole('link', { name: description }).click();
    await page.getByRole('heading', { level: 1, name: description }).waitFor();
  }

  /** Publishes order.created until `check` sees what it waits for (fanout may still be joining). */
  async function publishUntil<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
    let last = 0;
    return waitFor(
      async () => {
        const found = await check();
        if (found !== undefined) return found;
        if (Date.now() - last > 3000) {
          last = Date.now();
          await world.publishOrder();
        }
        return undefined;
      },
      { what, timeoutMs: 45_000, intervalMs: 200 },
    );
  }

  it('refuses a wrong key in Herald’s words, then signs in with the right one by keyboard', async () => {
    await page.goto(world.consoleUrl);
    await page.getByRole('heading', { level: 1, name: 'Sign in to the Herald console' }).waitFor();
    await expectAccessible();
    // The page heading has focus; Tab reaches the key field, Enter sends the form.
    await page.keyboard.press('Tab');
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe('api-key');
    await page.keyboard.type('hk_not_a_real_key');
    await page.keyboard.press('Enter');
    const refused = page.getByRole('alert').filter({ hasText: 'Herald refused the key.' });
    await refused.waitFor();
    expect(await refused.textContent()).toContain('Unauthorized');
    expect(await refused.textContent()).toContain('The API key is not valid');
    await shoot('sign-in-refused');

    await page.getByLabel('API key').fill(world.partnerKey);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Subscriptions' }).waitFor();
    // Kept for this tab only.
    expect(
      await page.evaluate<unknown[]>(
        "[sessionStorage.getItem('herald.console.apiKey'), localStorage.length, document.cookie]",
      ),
    ).toEqual([world.partnerKey, 0, '']);
    await expectAccessible();
  });

  it('shows the event catalog with descriptions, schemas and examples', async () => {
    await signIn();
    await nav('Event catalog');
    const order = page.locator('article', {
      has: page.getByRole('heading', { name: 'order.created', exact: true }),
    });
    await order.waitFor();
    await order.getByText('Payload schema').click();
    expect(await order.getByLabel('Payload schema of order.created').textContent()).toContain(
      '"properties"',
    );
    await order.getByText('Example payload').click();
    await order.getByLabel('Example payload of order.created').waitFor();
    await expectAccessible();

    await page.getByLabel('Find event types').fill('kitchen.**');
    await page.getByText(/^\d+ of \d+ event types$/).waitFor();
    const shown = await page.locator('article h2').allTextContents();
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every((name) => name.startsWith('kitchen.'))).toBe(true);
    await page.getByLabel('Find event types').fill('order.created');
    await order.getByText('Example payload').click();
    await order.getByLabel('Example payload of order.created').waitFor();
    await shoot('catalog');
  });

  it('creates a webhook subscription, checking the form as the partner types, and logs its test ping', async () => {
    await signIn();
    await page.getByRole('link', { name: 'New subscription' }).click();
    await page.getByRole('heading', { level: 1, name: 'New subscription' }).waitFor();

    const url = page.getByLabel('Webhook URL');
    await url.fill('example.com/hook');
    await page.getByText('Enter a whole URL, like https://example.com/webhooks/herald.').waitFor();
    await url.fill(world.receiver.url('/ping'));
    await page.getByLabel('Event types').fill('order.created, nosuch.*');
    await page.getByText('"nosuch.*" matches no event type in the catalog.').waitFor();
    await page.getByLabel('Event types').fill('order.created');
    await page.getByText('Matches one type:').waitFor();
    await page.getByLabel('Filter (optional)').fill('{"data.total": {"$gtt": 5}}');
    await page.getByText('At /data.total/$gtt, the filter: unknown operator $gtt').waitFor();
    expect(await page.getByLabel('Filter (optional)').getAttribute('aria-invalid')).toBe('true');
    await page.getByLabel('Retry schedule').fill('1s');
    await page.getByLabel('Description (optional)').fill('Order webhooks');
    await expectAccessible();
    await shoot('subscription-form');

    // Sending it anyway is stopped here, with the focus on the field to fix.
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await page.getByText('One field needs fixing').waitFor();
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe(
      'subscription-filter',
    );
    await page.getByLabel('Filter (optional)').fill('{"type": "order.created"}');
    await page.getByRole('button', { name: 'Create subscription' }).click();

    await page.getByRole('heading', { level: 1, name: 'Order webhooks' }).waitFor();
    const secret = (await page.getByTestId('signing-secret').textContent()) ?? '';
    expect(secret).toMatch(/^whsec_/);

    await page.getByRole('button', { name: 'Send test ping' }).click();
    await page.getByText(/Ping delivered: your endpoint answered HTTP 204/).waitFor();
    const logged = page.locator('table.log tbody tr', { hasText: 'herald.ping' });
    await logged.first().waitFor();
    expect(await logged.first().textContent()).toContain('test');
    expect(await logged.first().textContent()).toContain('Delivered');

    // The ping reached the receiver signed with the secret the page showed once.
    const [ping] = world.receiver.requestsTo('/ping');
    expect(ping).toBeDefined();
    const headers = Object.fromEntries(
      Object.entries(ping!.headers).map(([name, value]) => [name, String(value)]),
    );
    expect(new Webhook(secret).verify(ping!.body, headers)).toMatchObject({ type: 'herald.ping' });
    await expectAccessible();
    await shoot('subscription');

    // Shown once: gone after "stored", and not there when the page is opened again.
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Order webhooks' }).waitFor();
    expect(await page.getByTestId('signing-secret').count()).toBe(0);
  });

  it('sets, keeps, replaces and removes a webhook’s endpoint credentials', async () => {
    await signIn();
    await page.getByRole('link', { name: 'New subscription' }).click();
    await page.getByRole('heading', { level: 1, name: 'New subscription' }).waitFor();
    await page.getByLabel('Webhook URL').fill(world.receiver.url('/authed'));
    await page.getByLabel('Event types').fill('order.created');
    await page.getByLabel('Description (optional)').fill('Endpoint with credentials');
    await page.getByLabel('Credentials').selectOption('bearer');
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await page.getByText('Enter the token your endpoint expects.').waitFor();
    expect(await page.evaluate<string | undefined>('document.activeElement?.id')).toBe(
      'subscription-authToken',
    );
    await page.getByLabel('Bearer token').fill('two words');
    await page.getByText(/^Visible ASCII characters only/).waitFor();
    await page.getByLabel('Bearer token').fill('tok-123');
    await expectAccessible();
    await page.getByRole('button', { name: 'Create subscription' }).click();
    await page.getByRole('heading', { level: 1, name: 'Endpoint with credentials' }).waitFor();
    await page.getByText('bearer token (stored encrypted)').waitFor();
    // The token is not in the page once saved.
    expect(await page.content()).not.toContain('tok-123');

    /** The Authorization header of a new test ping, as the receiver got it. */
    const authorizationOfPing = async (): Promise<string | undefined> => {
      const before = world.receiver.requestsTo('/authed').length;
      await page.getByRole('button', { name: 'Send test ping' }).click();
      const ping = await waitFor(
        () => Promise.resolve(world.receiver.requestsTo('/authed')[before]),
        { what: 'the test ping' },
      );
      const value = ping.headers['authorization'];
      return value === undefined ? undefined : String(value);
    };
    const edit = async (change: () => Promise<void>, shown: string) => {
      await page.getByRole('link', { name: 'Edit' }).click();
      await page.getByRole('heading', { level: 1, name: /^Edit / }).waitFor();
      await change();
      await page.getByRole('button', { name: 'Save changes' }).click();
      await page.getByText(shown, { exact: true }).waitFor();
    };
    expect(await authorizationOfPing()).toBe('Bearer tok-123');

    // Kept while something else changes: the form shows they are there, not what they are.
    await edit(async () => {
      expect(await page.getByLabel('Credentials').inputValue()).toBe('keep');
      await page.getByLabel('Description (optional)').fill('Endpoint with credentials, renamed');
    }, 'bearer token (stored encrypted)');
    expect(await authorizationOfPing()).toBe('Bearer tok-123');

    await edit(async () => {
      await page.getByLabel('Credentials').selectOption('basic');
      await page.getByLabel('User name').fill('partner');
      await page.getByLabel('Password').fill('pa:ss');
      await expectAccessible();
    }, 'user name and password (stored encrypted)');
    expect(await authorizationOfPing()).toBe(
      `Basic ${Buffer.from('partner:pa:ss').toString('base64')}`,
    );

    await edit(
      () =>
        page
          .getByLabel('Credentials')
          .selectOption('none')
          .then(() => undefined),
      'none',
    );
    expect(await authorizationOfPing()).toBeUndefined();
  });

  it('repairs a webhook whose stored secrets Herald cannot read by rotating with its credentials sent again', async () => {
    const subscription = await world.createSubscription({
      url: world.receiver.url('/repaired'),
      types: ['order.created'],
      description: 'Damaged secrets',
      auth: { type: 'bearer', token: 'old-token' },
    });
    await world.damageSecrets(subscription.id);
    await signIn();
    await openSubscription('Damaged secrets');

    // Without the credentials, Herald refuses and says what to do.
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'The secret was not rotated.' });
    await refused.waitFor();
    expect(await refused.textContent()).toMatch(/auth/);

    await page.getByLabel('Endpoint credentials').selectOption('bearer');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByText('Enter the token your endpoint expects.').waitFor();
    await page.getByLabel('Bearer token').fill('new-token');
    await expectAccessible();
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const secret = (await page.getByTestId('signing-secret').textContent()) ?? '';
    expect(secret).toMatch(/^whsec_/);

    // Repaired: signed with the new secret, carrying the new token.
    await page.getByRole('button', { name: 'Send test ping' }).click();
    const ping = await waitFor(() => Promise.resolve(world.receiver.requestsTo('/repaired')[0]), {
      what: 'the test ping',
    });
    expect(ping.headers['authorization']).toBe('Bearer new-token');
    const headers = Object.fromEntries(
      Object.entries(ping.headers).map(([name, value]) => [name, String(value)]),
    );
    expect(new Webhook(secret).verify(ping.body, headers)).toMatchObject({ type: 'herald.ping' });
  });

  it('shows a failing delivery as a dead letter and redrives it once the receiver is fixed', async () => {
    world.receiver.fail('/flaky');
    const subscription = await world.createSubscription({
      url: world.receiver.url('/flaky'),
      types: ['order.created'],
      retry: { schedule: ['1s'] },
      description: 'Flaky endpoint',
    });
    const letter = await publishUntil(async () => {
      const letters = await world.read<{ items: { id: string; eventId: string }[] }>(
        `/v1/subscriptions/${subscription.id}/dead-letters`,
      );
      return letters.body.items[0];
    }, 'a dead letter');

    await signIn();
    await openSubscription('Flaky endpoint');
    const failed = page.locator(`table.log tbody tr[data-event-id="${letter.eventId}"]`, {
      hasText: 'HTTP 500',
    });
    await failed.first().waitFor();
    const dead = page.locator(`tr[data-event-id="${letter.eventId}"]`, { hasText: 'waiting' });
    await dead.waitFor();
    await expectAccessible();
    await page.getByRole('heading', { name: 'Dead letters' }).scrollIntoViewIfNeeded();
    await shoot('dead-letters');

    world.receiver.recover('/flaky');
    await page.getByRole('button', { name: 'Redrive all' }).click();
    await page.getByText(/Redrive rdr_\S+ accepted/).waitFor();
    await page
      .locator(`table.log tbody tr[data-event-id="${letter.eventId}"]`, { hasText: 'Delivered' })
      .waitFor({ timeout: 30_000 });
    await page
      .locator(`tr[data-event-id="${letter.eventId}"]`, { has: page.locator('time') })
      .filter({ hasNotText: 'waiting' })
      .last()
      .waitFor();
    // Delivered again under the same webhook-id.
    const attempts = world.receiver.requestsTo('/flaky');
    expect(attempts.at(-1)?.headers['webhook-id']).toBe(letter.eventId);
    expect(attempts.at(-1)?.headers['herald-attempt']).toBeDefined();
  });

  it('replays what Kafka holds from a time the partner picks', async () => {
    const subscription = await world.createSubscription({
      url: world.receiver.url('/replayed'),
      types: ['order.created'],
      description: 'Replay target',
    });
    const since = new Date(Math.floor(Date.now() / 1000) * 1000 - 2000);
    await publishUntil(
      () => Promise.resolve(world.receiver.requestsTo('/replayed').length > 0 || undefined),
      'a live delivery',
    );

    await signIn();
    await openSubscription('Replay target');
    // datetime-local in the page's time zone (UTC here), to the second.
    await page.getByLabel('Replay from').fill(since.toISOString().slice(0, 19));
    await page.getByRole('button', { name: 'Start replay' }).click();
    const replays = page.locator('section', { has: page.getByRole('heading', { name: 'Replay' }) });
    await replays.getByText('completed').waitFor({ timeout: 30_000 });
    await page.locator('table.log tbody tr', { hasText: 'replay' }).first().waitFor();
    expect(
      world.receiver.requestsTo('/replayed').some((r) => r.headers['herald-replay'] === 'true'),
    ).toBe(true);
    expect(
      (await world.read<{ items: unknown[] }>(`/v1/subscriptions/${subscription.id}/replays`)).body
        .items,
    ).toHaveLength(1);
    await expectAccessible();
    await replays.scrollIntoViewIfNeeded();
    await shoot('replay');
  });

  it('tails published events live, and says why Herald refused a stream', async () => {
    await signIn('/tail');
    await page.getByRole('heading', { level: 1, name: 'Live tail' }).waitFor();
    await page.getByLabel('Filter (optional)').fill('{"data.total": {"$gtt": 1}}');
    await page.getByText('At /data.total/$gtt, the filter: unknown operator $gtt').waitFor();
    await page.getByLabel('Filter (optional)').fill('');

    await page.getByLabel('Event types (optional)').fill('nosuch.*');
    await page.getByRole('button', { name: 'Start' }).click();
    const refused = page.getByRole('alert').filter({ hasText: 'The live tail stopped.' });
    await refused.waitFor();
    expect(await refused.textContent()).toContain('No event type matches "nosuch.*"');

    await page.getByLabel('Event types (optional)').fill('order.created');
    await page.getByLabel('Filter (optional)').fill('{"type": "order.created"}');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByText('Connected: new events appear below as they happen.').waitFor();
    await expectAccessible();
    const id = await publishUntil(async () => {
      const shown = await page
        .locator('li.tail-event')
        .first()
        .getAttribute('data-event-id', {
          timeout: 100,
        })
        .catch(() => null);
      return shown ?? undefined;
    }, 'an event in the live tail');
    expect(id).toMatch(/\S/);
    await page
      .locator('li.tail-event')
      .first()
      .getByText(/^Event /)
      .click();
    await shoot('live-tail');
    await page.getByRole('button', { name: 'Stop' }).click();
    await page.getByText('Not connected.').waitFor();
  });

  it('stops the live tail in Herald’s words, without reconnecting, when its key is deleted', async () => {
    const doomed = await world.createPartnerKey('console-tail-doomed');
    await signIn('/tail', doomed.key);
    await page.getByRole('heading', { level: 1, name: 'Live tail' }).waitFor();
    await page.getByLabel('Event types (optional)').fill('order.created');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.getByText('Connected: new events appear below as they happen.').waitFor();
    const streamRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes('/v1/streams/sse')) streamRequests.push(request.url());
    });

    await world.deleteKey(doomed.id);

    // fanout ends the stream (key_deleted) on the key's deletion notice; the console signs out,
    // as for any key Herald no longer takes, with fanout's message.
    const signedOut = page.getByRole('alert').filter({ hasText: 'You were signed out.' });
    await signedOut.waitFor();
    expect(await signedOut.textContent()).toContain('The API key of this stream was deleted');
    await page.getByRole('heading', { level: 1, name: 'Sign in to the Herald console' }).waitFor();
    expect(streamRequests).toEqual([]);
  });

  it('edits, pauses, resumes, rotates the secret of and deletes a subscription', async () => {
    const subscription = await world.createSubscription({
      url: world.receiver.url('/lifecycle'),
      types: ['order.*'],
      description: 'Lifecycle',
    });
    await signIn();
    await openSubscription('Lifecycle');
    const heading = page.getByRole('heading', { level: 1 });

    await page.getByRole('button', { name: 'Pause' }).click();
    await heading.filter({ hasText: 'paused' }).waitFor();
    await page.getByRole('button', { name: 'Resume' }).click();
    await heading.filter({ hasText: 'active' }).waitFor();

    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const secret = await page.getByTestId('signing-secret').textContent();
    expect(secret).toMatch(/^whsec_/);
    expect(secret).not.toBe(subscription.secret);
    await page.getByText(/The old secret also signs until/).waitFor();

    await page.getByRole('link', { name: 'Edit' }).click();
    await page.getByLabel('Description (optional)').fill('Lifecycle, renamed');
    await expectAccessible();
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('heading', { level: 1, name: 'Lifecycle, renamed' }).waitFor();

    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Delete for good' }).click();
    await page.getByRole('heading', { level: 1, name: 'Subscriptions' }).waitFor();
    await page.getByRole('table').or(page.getByText('No subscriptions yet')).first().waitFor();
    expect(await page.getByRole('link', { name: 'Lifecycle, renamed' }).count()).toBe(0);
    expect((await world.read(`/v1/subscriptions/${subscription.id}`)).status).toBe(404);
    await shoot('subscriptions');
  });
});
