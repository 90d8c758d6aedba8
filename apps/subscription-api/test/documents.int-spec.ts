import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import { parse as parseYaml } from 'yaml';
import {
  startSubscriptionApi,
  type RequestOptions,
  type TestApi,
} from './subscription-api.harness';

interface EventTypeEntry {
  type: string;
  channel: string;
  topic: string;
  schema: Record<string, unknown>;
  example: unknown;
  tmfEventType: string;
}

const validatorCli = require.resolve('@seriousme/openapi-schema-validator/bin/validate-api-cli.js');

/** Runs the OpenAPI schema validator's own CLI (the package is ESM-only, Jest runs CommonJS). */
async function validateOpenApi(document: unknown): Promise<{ valid: boolean; errors?: unknown }> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    await writeFile(file, JSON.stringify(document));
    const { stdout } = await promisify(execFile)(process.execPath, [validatorCli, file]).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    return JSON.parse(stdout) as { valid: boolean; errors?: unknown };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('subscription-api: catalog and documents', () => {
  let api: TestApi;
  let types: EventTypeEntry[];

  beforeAll(async () => {
    api = await startSubscriptionApi();
    types = (
      await api.request<{ items: EventTypeEntry[] }>('GET', '/v1/event-types', { key: null })
    ).body.items;
  });
  afterAll(() => api.close());

  it('lists every event type publicly with channel, schema and example', async () => {
    expect(types.length).toBeGreaterThanOrEqual(20);
    expect(types.map((t) => t.type)).toEqual(
      expect.arrayContaining(['order.created', 'kitchen.order.ready', 'herald.ping']),
    );
    for (const entry of types) {
      expect(entry.schema).toMatchObject({ type: 'object' });
      expect(entry.example).not.toBeNull();
      expect(entry.topic).toMatch(/\S/);
    }
    const orders = await api.request<{ items: EventTypeEntry[] }>(
      'GET',
      '/v1/event-types?types=order.*',
      { key: null },
    );
    expect(orders.body.items.map((t) => t.type)).toEqual([
      'order.cancelled',
      'order.completed',
      'order.confirmed',
      'order.created',
    ]);
    const one = await api.request<EventTypeEntry>('GET', '/v1/event-types/order.created', {
      key: null,
    });
    expect(one.body).toMatchObject({
      type: 'order.created',
      topic: 'orders.v1',
      tmfEventType: 'OrderCreateEvent',
    });
    expect((await api.request('GET', '/v1/event-types/order.nope', { key: null })).status).toBe(
      404,
    );
    expect((await api.request('GET', '/v1/event-types?types=order.*x', { key: null })).status).toBe(
      400,
    );
  });

  it('answers a bad event-types query with 400 catalog.event_types.invalid, naming the parameter', async () => {
    const cases: [string, string, string][] = [
      // Malformed: a glob that is not one, a parameter it does not take.
      ['a bad glob', 'types=order.*x', '/types'],
      ['an empty glob segment', 'types=order..created', '/types'],
      ['an unknown parameter', 'colour=blue', '/colour'],
      // Wrongly typed: a list where one glob goes.
      ['types given twice', 'types=order.*&types=payment.*', '/types'],
      // Oversized.
      ['a glob over 200 characters', `types=${'order.'.repeat(40)}*`, '/types'],
    ];
    const answers: unknown[][] = [];
    for (const [name, query] of cases) {
      const response = await api.request<{
        code: string;
        type: string;
        errors?: { pointer: string }[];
      }>('GET', `/v1/event-types?${query}`, { key: null });
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      answers.push([
        name,
        response.status,
        response.body.code,
        response.body.type,
        response.body.errors?.map((e) => e.pointer) ?? [],
      ]);
    }
    expect(answers).toEqual(
      cases.map(([name, , pointer]): unknown[] => [
        name,
        400,
        'catalog.event_types.invalid',
        'urn:herald:problem:catalog.event_types.invalid',
        expect.arrayContaining([pointer]),
      ]),
    );
  });

  it('names in the OpenAPI document the code each API-key and catalog error is sent with', async () => {
    interface Responses {
      responses: Record<string, { description?: string }>;
    }
    const openapi = await api.request<{ paths: Record<string, Record<string, Responses>> }>(
      'GET',
      '/openapi.json',
      { key: null },
    );
    const cases: [string, string, string, number, RequestOptions][] = [
      ['POST', '/v1/api-keys', '/v1/api-keys', 400, { body: { name: 'ci', tenant: 'a b' } }],
      ['GET', '/v1/api-keys', '/v1/api-keys?tenant=a%20b', 400, {}],
      ['DELETE', '/v1/api-keys/{id}', '/v1/api-keys/0123456789abcdef', 404, {}],
      ['GET', '/v1/event-types', '/v1/event-types?types=order.*x', 400, { key: null }],
      ['GET', '/v1/event-types/{type}', '/v1/event-types/order.nope', 404, { key: null }],
    ];
    for (const [method, path, url, status, options] of cases) {
      const response = await api.request<{ code: string }>(method, url, options);
      const description =
        openapi.body.paths[path]?.[method.toLowerCase()]?.responses[String(status)]?.description;
      expect([method, url, response.status, description]).toEqual([
        method,
        url,
        status,
        expect.stringContaining(`(\`${response.body.code}\`)`),
      ]);
    }
  });

  it('serves a merged AsyncAPI document that @asyncapi/parser accepts without errors', async () => {
    const json = await api.request('GET', '/asyncapi.json', { key: null });
    expect(json.headers.get('content-type')).toContain('application/json');
    const { document, diagnostics } = await new Parser().parse(json.text);
    // Severity 0 is an error; warnings and hints (like "3.1.0 exists") are allowed.
    const errors = diagnostics.filter((d) => (d.severity as number) === 0);
    expect(errors).toEqual([]);
    expect(document).toBeDefined();
    const channels = document!
      .channels()
      .all()
      .map((c) => c.id());
    expect(channels).toEqual(
      expect.arrayContaining(['orders', 'kitchen', 'webhook', 'sse', 'websocket']),
    );
    const messageNames = document!
      .messages()
      .all()
      .map((m) => m.name());
    for (const entry of types) expect(messageNames).toContain(entry.type);
    const operations = document!
      .operations()
      .all()
      .map((o) => o.id());
    expect(operations).toEqual(
      expect.arrayContaining([
        'deliverWebhook',
        'streamServerSentEvents',
        'streamWebSocketEvents',
        'receiveWebSocketCommands',
      ]),
    );

    const yaml = await api.request('GET', '/asyncapi.yaml', { key: null });
    expect(yaml.headers.get('content-type')).toContain('yaml');
    expect(parseYaml(yaml.text)).toEqual(json.body);
  });

  it('renders /docs with every event type, its schema and its example', async () => {
    const docs = await api.request('GET', '/docs', { key: null });
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toContain('text/html');
    expect(docs.text).not.toMatch(/<script|https?:\/\/cdn/i);
    for (const entry of types) {
      const anchor = `id="type-${entry.type.replace(/[^A-Za-z0-9_-]/g, '-')}"`;
      const start = docs.text.indexOf(anchor);
      expect([entry.type, start > 0]).toEqual([entry.type, true]);
      const section = docs.text.slice(start, docs.text.indexOf('</section>', start));
      expect(section).toContain(`<code>${entry.type}</code>`);
      expect(section).toContain('class="schema"');
      expect(section).toContain('class="example"');
      const firstProperty = Object.keys(entry.schema['properties'] ?? {})[0];
      if (firstProperty) expect(section).toContain(firstProperty);
    }
  });

  it('serves an OpenAPI 3 document that validates, covering every endpoint', async () => {
    const openapi = await api.request<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    }>('GET', '/openapi.json', { key: null });
    expect(openapi.body.openapi).toMatch(/^3\./);
    expect(await validateOpenApi(openapi.body)).toEqual({ valid: true });
    const operations = Object.entries(openapi.body.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /v1/api-keys',
        'GET /v1/api-keys',
        'DELETE /v1/api-keys/{id}',
        'POST /v1/subscriptions',
        'GET /v1/subscriptions',
        'GET /v1/subscriptions/{id}',
        'PATCH /v1/subscriptions/{id}',
        'DELETE /v1/subscriptions/{id}',
        'POST /v1/subscriptions/{id}/pause',
        'POST /v1/subscriptions/{id}/resume',
        'POST /v1/subscriptions/{id}/test',
        'POST /v1/subscriptions/{id}/secret/rotate',
        'POST /v1/subscriptions/{id}/replay',
        'GET /v1/subscriptions/{id}/replays/{replayId}',
        'GET /v1/subscriptions/{id}/deliveries',
        'GET /v1/subscriptions/{id}/dead-letters',
        'POST /v1/subscriptions/{id}/dead-letters/redrive',
        'GET /v1/subscriptions/{id}/stats',
        'POST /tmf-api/event/v4/hub',
        'GET /tmf-api/event/v4/hub/{id}',
        'DELETE /tmf-api/event/v4/hub/{id}',
        'GET /v1/event-types',
        'GET /asyncapi.json',
        'GET /asyncapi.yaml',
        'GET /docs',
        'POST /v1/events/{type}',
        'POST /v1/events',
      ]),
    );
  });

  it('documents the media types each body may come in, the 415 otherwise, and the limits of a subscription', async () => {
    interface Schema {
      properties: Record<string, Record<string, unknown> & { items?: Record<string, unknown> }>;
    }
    interface Operation {
      requestBody?: { content: Record<string, { schema: Schema }> };
      responses: Record<string, { headers?: Record<string, unknown>; content?: object }>;
    }
    const openapi = await api.request<{ paths: Record<string, Record<string, Operation>> }>(
      'GET',
      '/openapi.json',
      { key: null },
    );
    const patch = openapi.body.paths['/v1/subscriptions/{id}']!.patch!;
    expect(Object.keys(patch.requestBody!.content)).toEqual([
      'application/merge-patch+json',
      'application/json',
    ]);
    expect(Object.keys(patch.responses['415']!.headers!).sort()).toEqual([
      'Accept',
      'Accept-Patch',
    ]);
    // Every operation of this app that takes a body documents the 415 it answers to another type.
    const withBody = Object.entries(openapi.body.paths)
      .filter(([path]) => !path.startsWith('/v1/events'))
      .flatMap(([path, item]) =>
        Object.entries(item)
          .filter(([, operation]) => operation.requestBody !== undefined)
          .map(([method, operation]) => ({ name: `${method.toUpperCase()} ${path}`, operation })),
      );
    expect(withBody.map((o) => o.name)).toEqual(
      expect.arrayContaining([
        'POST /v1/subscriptions',
        'PATCH /v1/subscriptions/{id}',
        'POST /v1/api-keys',
        'POST /tmf-api/event/v4/hub',
      ]),
    );
    for (const { name, operation } of withBody) {
      expect([name, Object.keys(operation.responses['415']?.content ?? {})]).toEqual([
        name,
        ['application/problem+json'],
      ]);
      if (!name.startsWith('PATCH'))
        expect([name, Object.keys(operation.requestBody!.content)]).toEqual([
          name,
          ['application/json'],
        ]);
    }

    const create =
      openapi.body.paths['/v1/subscriptions']!.post!.requestBody!.content['application/json']!
        .schema.properties;
    for (const fields of [
      create,
      patch.requestBody!.content['application/json']!.schema.properties,
    ]) {
      expect(fields['types']!.items).toMatchObject({ maxLength: 256 });
      expect(fields['maxPerSecond']).toMatchObject({ minimum: 1, maximum: 10_000, nullable: true });
      for (const webhookOnly of ['format', 'ordering', 'maxInFlight', 'maxPerSecond'])
        expect(fields[webhookOnly]!.description).toContain('Webhooks only');
    }
  });

  it('documents HTTP ingest as ingest-bridge serves it', async () => {
    interface Operation {
      parameters: { name: string; in: string }[];
      requestBody: { content: Record<string, { schema: Record<string, unknown> }> };
      responses: Record<
        string,
        { headers?: Record<string, unknown>; content?: Record<string, { schema: unknown }> }
      >;
    }
    const openapi = await api.request<{
      paths: Record<string, { servers: { url: string }[]; post: Operation }>;
      components: { schemas: Record<string, { allOf?: { properties?: object }[] }> };
    }>('GET', '/openapi.json', { key: null });
    const typed = openapi.body.paths['/v1/events/{type}']!;
    const forms = openapi.body.paths['/v1/events']!;
    for (const path of [typed, forms]) {
      // Another process: the path names ingest-bridge's server, not subscription-api's.
      expect(path.servers).toEqual([expect.objectContaining({ url: '{ingestBridge}' })]);
      expect(Object.keys(path.post.responses).sort()).toEqual(
        ['200', '202', '400', '401', '403', '404', '409', '413', '415', '422', '429', '503'].sort(),
      );
      for (const status of ['409', '429', '503'])
        expect(path.post.responses[status]!.headers).toHaveProperty('Retry-After');
      expect(path.post.responses['400']!.content).toEqual({
        'application/problem+json': { schema: { $ref: '#/components/schemas/IngestProblem' } },
      });
    }
    expect(typed.post.parameters.map((p) => `${p.in} ${p.name}`)).toEqual(
      expect.arrayContaining([
        'path type',
        'header ce-id',
        'header Idempotency-Key',
        'header ce-source',
        'header ce-time',
        'header herald-key',
        'header traceparent',
      ]),
    );
    expect(Object.keys(forms.post.requestBody.content).sort()).toEqual([
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/json',
    ]);
    expect(
      forms.post.requestBody.content['application/cloudevents-batch+json']!.schema,
    ).toMatchObject({ type: 'array', minItems: 1, maxItems: 1000 });
    const problem = openapi.body.components.schemas['IngestProblem']!.allOf![1]!.properties;
    expect(problem).toHaveProperty('errorCount');
    expect(problem).toHaveProperty('errorCountIsLowerBound');
    // An unknown type's name: `type` is the problem type.
    expect(problem).toHaveProperty('eventType');
    expect(openapi.body.components.schemas).toHaveProperty('IngestResult');
  });

  it('documents each error in the media type a real error response carries', async () => {
    interface Responses {
      responses: Record<string, { content?: Record<string, unknown> }>;
    }
    const openapi = await api.request<{ paths: Record<string, Record<string, Responses>> }>(
      'GET',
      '/openapi.json',
      { key: null },
    );
    const documentedTypes = (method: string, path: string, status: number) =>
      Object.keys(
        openapi.body.paths[path]?.[method.toLowerCase()]?.responses[String(status)]?.content ?? {},
      );
    // Real errors of operations that document them: each must be sent as documented.
    const cases: [string, string, string, number, RequestOptions][] = [
      ['GET', '/v1/event-types/{type}', '/v1/event-types/order.nope', 404, { key: null }],
      ['GET', '/v1/subscriptions', '/v1/subscriptions', 401, { key: null }],
      ['POST', '/v1/subscriptions', '/v1/subscriptions', 400, { body: { kind: 'email' } }],
      [
        'POST',
        '/v1/subscriptions',
        '/v1/subscriptions',
        415,
        { raw: 'kind=webhook', contentType: 'text/plain' },
      ],
      ['GET', '/v1/subscriptions/{id}', '/v1/subscriptions/sub_nope', 404, {}],
      ['DELETE', '/v1/api-keys/{id}', '/v1/api-keys/key_nope', 404, {}],
      ['POST', '/v1/api-keys', '/v1/api-keys', 400, { body: [] }],
      ['GET', '/v1/event-types', '/v1/event-types?colour=blue', 400, { key: null }],
      ['GET', '/tmf-api/event/v4/hub/{id}', '/tmf-api/event/v4/hub/nope', 404, {}],
    ];
    const sentTypes = new Set<string>();
    for (const [method, path, url, status, options] of cases) {
      const response = await api.request(method, url, options);
      const sent = response.headers.get('content-type')?.split(';')[0]!.trim();
      sentTypes.add(sent!);
      expect([method, url, response.status, documentedTypes(method, path, status)]).toEqual([
        method,
        url,
        status,
        [sent],
      ]);
    }
    expect([...sentTypes]).toEqual(['application/problem+json']);
    // And so is every other error this app documents (ingest-bridge's included).
    const documented = new Set(
      Object.entries(openapi.body.paths).flatMap(([path, item]) =>
        Object.keys(item).flatMap((method) =>
          Object.keys(item[method]!.responses ?? {})
            .filter((status) => /^[45]/.test(status))
            .flatMap((status) => documentedTypes(method, path, Number(status))),
        ),
      ),
    );
    expect([...documented]).toEqual([...sentTypes]);
  });

  it("documents the health checks' answers as they are sent", async () => {
    const openapi = await api.request('GET', '/openapi.json', { key: null });
    // Not ready here: the harness points Kafka at an address that refuses.
    const ready = await api.request('GET', '/health/ready', { key: null });
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({
      status: 503,
      detail: 'Not ready: kafka',
      error: { kafka: { status: 'down' } },
    });
    const live = await api.request('GET', '/health/live', { key: null });
    expect(live.status).toBe(200);
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addSchema(openapi.body, 'openapi.json');
    const schemaOf = (path: string, status: number, mediaType: string) =>
      ajv.compile({
        $ref: `openapi.json#/paths/${path.replace(/\//g, '~1')}/get/responses/${status}/content/${mediaType.replace(/\//g, '~1')}/schema`,
      });
    for (const path of ['/health/live', '/health/ready']) {
      const validate = schemaOf(path, 503, 'application/problem+json');
      expect([path, validate(ready.body), validate.errors ?? null]).toEqual([path, true, null]);
      const validateOk = schemaOf(path, 200, 'application/json');
      expect([path, validateOk(live.body), validateOk.errors ?? null]).toEqual([path, true, null]);
    }
    // The examples show Herald's checks (Terminus's own show a `database` check), and pass too.
    expect(JSON.stringify(openapi.body).match(/"database"/g)).toBeNull();
    const schemas = (
      openapi.body as { components: { schemas: Record<string, { example: unknown }> } }
    ).components.schemas;
    for (const name of ['HealthReport', 'HealthProblem']) {
      const validate = ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` });
      const example = schemas[name]!.example;
      expect([name, validate(example), validate.errors ?? null]).toEqual([name, true, null]);
    }
    expect(schemas['HealthProblem']!.example).toMatchObject({ detail: 'Not ready: redis' });
  });

  it('serves /api-docs with its own Swagger UI assets (no CDN)', async () => {
    const page = await api.request('GET', '/api-docs', { key: null });
    expect(page.status).toBe(200);
    expect(page.text).not.toMatch(/https?:\/\//);
    expect(page.text).toContain('POST</code></td><td><code>/v1/subscriptions</code>');
    const assets = [...page.text.matchAll(/(?:src|href)="(\/api-docs\/assets\/[^"]+)"/g)].map(
      (m) => m[1]!,
    );
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const response = await fetch(`${api.base}${asset}`);
      expect([asset, response.status]).toEqual([asset, 200]);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(50);
    }
    expect(
      (await api.request('GET', '/api-docs/assets/..%2Fpackage.json', { key: null })).status,
    ).toBe(404);
  });
});
