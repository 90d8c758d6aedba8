import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig } from '@herald/config';
import { loadContract, type ContractRegistry } from '@herald/contract';
import type { IncomingRecord } from '@herald/kafka';
import { collect, createTestConnection, waitFor } from '@herald/kafka/testing';
import { createObservability } from '@herald/observability';
import { SERVICE } from '../src/app.module';
import { startIngestBridge } from '../src/ingest-bridge.app';
import { ingestBridgeConfigFragments } from '../src/ingest-bridge.config';
import { SourceBridgeService } from '../src/bridge/source-bridge.service';

export const REPO_ROOT = resolve(__dirname, '../../..');
export const ADMIN_KEY = `test-admin-key-${randomUUID()}`;

let contract: Promise<ContractRegistry> | undefined;

/** The shipped contract, loaded once per test file (parsing takes seconds). */
export function shippedContract(): Promise<ContractRegistry> {
  contract ??= loadContract(resolve(REPO_ROOT, 'asyncapi'));
  return contract;
}

export interface IngestApp {
  app: NestFastifyApplication;
  url: string;
  prefix: string;
  contract: ContractRegistry;
  stop(): Promise<void>;
}

/**
 * ingest-bridge in this process, on a free port, against `brokers` and REDIS_URL under a fresh
 * prefix, with the shipped contract unless `testContract` gives another.
 */
export async function startIngestApp(
  brokers: string,
  env: Record<string, string> = {},
  testContract?: ContractRegistry,
): Promise<IngestApp> {
  const prefix = `test:${randomUUID().slice(0, 8)}:`;
  const config = loadConfig(ingestBridgeConfigFragments, {
    KAFKA_BROKERS: brokers,
    REDIS_URL: process.env.REDIS_URL,
    HERALD_REDIS_PREFIX: prefix,
    HERALD_ADMIN_KEY: ADMIN_KEY,
    INGEST_BRIDGE_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.HERALD_TEST_LOG ?? 'silent',
    KAFKA_PUBLISH_TIMEOUT_MS: '3000',
    ...env,
  });
  const observability = createObservability(SERVICE, config.observability);
  const registry = testContract ?? (await shippedContract());
  const app = await startIngestBridge(config, observability, registry);
  await app.get(SourceBridgeService).ready();
  const { port } = app.getHttpServer().address() as { port: number };
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    prefix,
    contract: registry,
    stop: () => app.close(),
  };
}

/** POSTs `body` (an object is sent as JSON) with the admin key unless `key` says otherwise. */
export async function post(
  url: string,
  body: unknown,
  {
    key = ADMIN_KEY,
    contentType = 'application/json',
    headers = {},
  }: { key?: string | null; contentType?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...headers,
    },
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text.length > 0 ? (JSON.parse(text) as unknown) : undefined,
  };
}

/** Records in `topic` (every partition, from its low to its high watermark). */
export async function topicSize(brokers: string, topic: string): Promise<number> {
  const admin = createTestConnection(brokers).kafka.admin();
  await admin.connect();
  try {
    const partitions = await admin.fetchTopicOffsets(topic);
    return partitions.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** The records of `topic` with these `ce_id`s, by id, once all of them are there. */
export async function recordsById(
  brokers: string,
  topic: string,
  ids: readonly string[],
): Promise<Map<string, IncomingRecord>> {
  return waitFor(async () => {
    const size = await topicSize(brokers, topic);
    const records = size === 0 ? [] : await collect(brokers, topic, size);
    const mine = new Map(
      records
        .filter((r) => ids.includes(r.headers.ce_id?.toString() ?? ''))
        .map((r) => [r.headers.ce_id!.toString(), r]),
    );
    return mine.size === ids.length ? mine : undefined;
  });
}
