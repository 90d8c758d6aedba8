// SSRF through the whole delivery path: fanout consumes real events from the broker and delivers
// them with its own webhook client, its DNS answers injected. 127.0.0.2 plays the public partner
// (the only block HERALD_ALLOWED_NETWORKS allows); 127.0.0.1 and ::1 play the internal service.
// Subscriptions are written straight into the store, as if registered when DNS said otherwise or
// under a wider allow-list, so only delivery stands between them and the internal service.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@herald/config';
import type { HostResolver } from '@herald/delivery';
import { confineToLoopback, type LoopbackTripwire } from '@herald/delivery/testing';
import { startTestBroker, type RunningBroker } from '@herald/kafka/testing';
import { createObservability } from '@herald/observability';
import { DeliveryLogRepository, type LoggedAttempt } from '@herald/store';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { SERVICE } from '../src/app.module';
import { DeliveryService } from '../src/delivery/delivery.service';
import { startFanout } from '../src/fanout.app';
import { fanoutConfigFragments } from '../src/fanout.config';
import {
  EventPublisher,
  REPO_ROOT,
  createSubscription,
  newFanoutEnv,
  orderEvents,
  shippedContract,
  storeFor,
  waitFor,
  type FanoutEnv,
  type TestStore,
} from './delivery.fixture';

const PARTNER_ADDRESS = '127.0.0.2';
const FAST_RETRIES = { retry: { schedule: ['100ms', '100ms'] } };

interface Listener {
  readonly port: number;
  readonly requests: string[];
  connections: number;
  close(): Promise<void>;
}

async function listen(
  host: string,
  port: number,
  answer: (path: string) => { status: number; headers?: Record<string, string> },
): Promise<Listener> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    req.resume();
    req.on('end', () => {
      const { status, headers } = answer(req.url ?? '');
      // No keep-alive: every delivery opens a new connection, so every one is checked anew.
      res.writeHead(status, { connection: 'close', ...headers }).end();
    });
  });
  let connections = 0;
  server.on('connection', () => (connections += 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('SSRF through fanout delivery', () => {
  let tripwire: LoopbackTripwire;
  let broker: RunningBroker;
  let setup: FanoutEnv;
  let store: TestStore;
  let log: DeliveryLogRepository;
  let app: NestFastifyApplication;
  let events: EventPublisher;
  let victim: Listener;
  let victim6: Listener;
  let partner: Listener;
  let port: number;
  const dns = new Map<string, string>();
  const resolver: HostResolver = (hostname) => {
    const address = dns.get(hostname);
    if (address === undefined)
      return Promise.reject(Object.assign(new Error('no such name'), { code: 'ENOTFOUND' }));
    return Promise.resolve([{ address, family: address.includes(':') ? 6 : 4 }]);
  };

  beforeAll(async () => {
    tripwire = confineToLoopback();
    await shippedContract();
    broker = await startTestBroker();
    setup = newFanoutEnv(broker.brokers, process.env.REDIS_URL!);
    store = await storeFor(setup);
    log = new DeliveryLogRepository(store.redis, store.keys);
    victim = await listen('127.0.0.1', 0, () => ({ status: 200 }));
    port = victim.port;
    victim6 = await listen('::1', port, () => ({ status: 200 }));
    partner = await listen(PARTNER_ADDRESS, port, (path) => {
      const redirect = /^\/redirect-(\d+)\/(.*)$/.exec(path);
      if (!redirect) return { status: 204 };
      return {
        status: Number(redirect[1]),
        headers: { location: decodeURIComponent(redirect[2]!) },
      };
    });
    const config = loadConfig(fanoutConfigFragments, {
      KAFKA_BROKERS: setup.brokers,
      REDIS_URL: setup.redisUrl,
      HERALD_REDIS_PREFIX: setup.prefix,
      HERALD_SECRET_KEY: setup.secretKey,
      HERALD_FANOUT_GROUP: setup.group,
      HERALD_CONTRACTS: `${REPO_ROOT}/asyncapi`,
      HERALD_ALLOWED_NETWORKS: `${PARTNER_ADDRESS}/32`,
      HERALD_DELIVERY_CONNECT_TIMEOUT_MS: '2000',
      FANOUT_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.HERALD_TEST_LOG ?? 'silent',
      HERALD_DELIVERY_COMMIT_INTERVAL_MS: '200',
      HERALD_DELIVERY_POLL_INTERVAL_MS: '100',
    });
    const observability = createObservability(SERVICE, config.observability);
    app = await startFanout(config, observability, {
      contract: await shippedContract(),
      resolver,
    });
    await app.get(DeliveryService).ready();
    events = new EventPublisher(broker.brokers);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([victim, victim6, partner].map((l) => l?.close()));
    await app?.close();
    await events?.close();
    await store?.cleanup();
    await broker?.stop();
    tripwire?.restore();
  });

  /** Every logged attempt of a subscription, oldest first. */
  async function attempts(subscriptionId: string): Promise<LoggedAttempt[]> {
    const page = await log.list(subscriptionId, { limit: 100 });
    return page.items.reverse();
  }

  /** Waits for the event's delivery to a subscription to be dead-lettered; returns its attempts. */
  async function deadLettered(subscriptionId: string, eventId: string) {
    await waitFor(
      async () => {
        const page = await store.deadLetters.list(subscriptionId, { limit: 10 });
        return page.items.some((letter) => letter.eventId === eventId);
      },
      { what: `the dead letter of ${eventId} for ${subscriptionId}`, timeoutMs: 20_000 },
    );
    const page = await store.deadLetters.list(subscriptionId, { limit: 10 });
    const letter = page.items.find((l) => l.eventId === eventId)!;
    // The delivery log is written in batches: wait for the last attempt to be in it too.
    const tried = await waitFor(
      async () => {
        const logged = (await attempts(subscriptionId)).filter((a) => a.eventId === eventId);
        return logged.length >= letter.attempts ? logged : undefined;
      },
      { what: `the ${letter.attempts} attempts of ${eventId} in the log`, timeoutMs: 5_000 },
    );
    return { letter, tried };
  }

  function expectNothingLeaked(): void {
    expect(victim.connections).toBe(0);
    expect(victim6.connections).toBe(0);
    expect(tripwire.violations).toEqual([]);
  }

  it('refuses a host whose DNS answer turned private after registration, and dead-letters it', async () => {
    const answers = ['127.0.0.1', '::1', '::ffff:127.0.0.1', '169.254.169.254', '10.0.0.5'];
    const subscriptions = [];
    for (const [index] of answers.entries()) {
      dns.set(`rebind-${index}.partner.test`, PARTNER_ADDRESS);
      subscriptions.push(
        await createSubscription(
          store,
          `http://rebind-${index}.partner.test:${port}/rebind-${index}`,
          FAST_RETRIES,
        ),
      );
    }
    const [before, after] = orderEvents(2, 2);
    await events.publish([before!]);
    await waitFor(() => answers.every((_, i) => partner.requests.includes(`/rebind-${i}`)), {
      what: 'the first event at every subscription',
    });

    answers.forEach((address, index) => dns.set(`rebind-${index}.partner.test`, address));
    await events.publish([after!]);
    for (const [index, address] of answers.entries()) {
      const id = subscriptions[index]!.subscription.id;
      const { letter, tried } = await deadLettered(id, after!.id);
      expect(tried.map((a) => [a.attempt, a.status, a.statusCode])).toEqual([
        [1, 'failed', null],
        [2, 'failed', null],
        [3, 'failed', null],
      ]);
      for (const attempt of tried)
        expect(attempt.error).toContain(
          `refused_address: rebind-${index}.partner.test resolves to ${address}, which is`,
        );
      expect(letter).toMatchObject({ attempts: 3, lastStatus: null });
    }
    expect(partner.requests.filter((path) => path.startsWith('/rebind-'))).toHaveLength(
      answers.length,
    );
    expectNothingLeaked();
  });

  it('never follows a redirect to an internal address; the 3xx is a failed attempt', async () => {
    dns.set('hooks.partner.test', PARTNER_ADDRESS);
    const cases = [301, 302, 303, 307, 308].flatMap((status) =>
      [
        `http://127.0.0.1:${port}/internal`,
        `http://[::1]:${port}/internal`,
        'http://169.254.169.254/latest/meta-data/',
      ].map((location) => ({ status, location })),
    );
    const subscriptions = await Promise.all(
      cases.map(({ status, location }) =>
        createSubscription(
          store,
          `http://hooks.partner.test:${port}/redirect-${status}/${encodeURIComponent(location)}`,
          FAST_RETRIES,
        ),
      ),
    );
    const [event] = orderEvents(1, 1);
    await events.publish([event!]);
    for (const [index, { status }] of cases.entries()) {
      const { letter, tried } = await deadLettered(
        subscriptions[index]!.subscription.id,
        event!.id,
      );
      expect(tried.map((a) => [a.status, a.statusCode, a.error])).toEqual(
        Array.from({ length: 3 }, () => ['failed', status, `HTTP ${status}`]),
      );
      expect(letter).toMatchObject({ attempts: 3, lastStatus: status });
    }
    expect(partner.requests.filter((path) => path.startsWith('/redirect-'))).toHaveLength(
      cases.length * 3,
    );
    expectNothingLeaked();
  });

  it('refuses internal addresses in every spelling at delivery, and keeps delivering elsewhere', async () => {
    dns.set('healthy.partner.test', PARTNER_ADDRESS);
    const urls = [
      `http://127.0.0.1:${port}/`,
      `http://[::1]:${port}/`,
      `http://[::ffff:7f00:1]:${port}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://[0:0:0:0:0:FFFF:7F00:0001]:${port}/`,
      `http://[::127.0.0.1]:${port}/`,
      `http://0x7f.1:${port}/`,
      `http://0X7F000001:${port}/`,
      `http://2130706433:${port}/`,
      `http://017700000001:${port}/`,
      `http://127.1:${port}/`,
      `http://127.0.0.1.:${port}/`,
      `http://０x7f.0.0.1:${port}/`,
      `http://LOCALHOST:${port}/`,
      `http://localhost.:${port}/`,
      `http://0.0.0.0:${port}/`,
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/latest/meta-data/',
      `http://[fe80::1%25eth0]:${port}/`,
    ];
    const subscriptions = [];
    for (const url of urls) subscriptions.push(await createSubscription(store, url, FAST_RETRIES));
    const healthy = await createSubscription(
      store,
      `http://healthy.partner.test:${port}/healthy`,
      FAST_RETRIES,
    );
    const batch = orderEvents(3, 3);
    await events.publish(batch);

    for (const [index, url] of urls.entries()) {
      for (const event of batch) {
        const { tried } = await deadLettered(subscriptions[index]!.subscription.id, event.id);
        expect(tried).toHaveLength(3);
        for (const attempt of tried) {
          expect(attempt).toMatchObject({ status: 'failed', statusCode: null });
          // A zone identifier is not valid in a URL at all; everything else is judged and refused.
          const expected = url.includes('%25') ? /^network: / : /^refused_address: .+ is a /;
          expect(attempt.error).toMatch(expected);
        }
      }
    }
    await waitFor(() => partner.requests.filter((p) => p === '/healthy').length === batch.length, {
      what: 'every event at the healthy subscription',
    });
    const delivered = await attempts(healthy.subscription.id);
    expect(delivered.map((a) => a.status)).toEqual(batch.map(() => 'succeeded'));
    expectNothingLeaked();
  });
});
