import { createServer, type AddressInfo, type Server } from 'node:net';
import { createJsonLogger } from './broker.logger';
import { resolveBrokerOptions, type BrokerOptions } from './broker.options';
import type { BrokerRuntime } from './broker-runtime';
import { AppendSignal } from './fetch/append-signal';
import { GroupCoordinator } from './group/group-coordinator';
import { SERVED_APIS } from './handlers/served-apis';
import { BrokerConnection } from './network/broker-connection';
import { PartitionAppender } from './produce/partition-appender';
import { openStorage } from './storage/broker-storage';
import { TopicCatalog } from './topics/topic-catalog';

export interface RunningBroker {
  /** Host clients connect to (the advertised one). */
  host: string;
  port: number;
  /** Bootstrap string for clients: "host:port". */
  brokers: string;
  /** Closes every connection, answers waiting requests, flushes and closes storage. */
  stop(): Promise<void>;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Starts a single-node Kafka-protocol broker; in memory unless `dataDir` is set. */
export async function startBroker(input: BrokerOptions = {}): Promise<RunningBroker> {
  const options = resolveBrokerOptions(input, createJsonLogger());
  const log = options.logger;
  const storage = await openStorage({
    dataDir: options.dataDir,
    fsync: options.fsync,
    segmentBytes: options.segmentBytes,
    onBackgroundError: (error) => log.error('storage background failure', { error }),
  });
  const appendSignal = new AppendSignal();
  const groups = new GroupCoordinator(storage, options, log);
  const endpoint = { host: options.advertisedHost ?? options.host, port: options.port };
  if (!options.advertisedHost && (endpoint.host === '0.0.0.0' || endpoint.host === '::'))
    endpoint.host = '127.0.0.1';
  const runtime: BrokerRuntime = {
    options,
    log,
    storage,
    topics: new TopicCatalog(storage, appendSignal, options),
    groups,
    appender: new PartitionAppender(appendSignal),
    appendSignal,
    // SASL is only advertised when it is switched on.
    servedApis: options.saslPlainUsers
      ? SERVED_APIS
      : new Map([...SERVED_APIS].filter(([, api]) => !api.sasl)),
    endpoint,
  };

  const connections = new Set<BrokerConnection>();
  let nextConnectionId = 1;
  const server = createServer((socket) => {
    const connection = new BrokerConnection(socket, nextConnectionId++, runtime, (c) =>
      connections.delete(c),
    );
    connections.add(connection);
  });
  let address: AddressInfo;
  try {
    address = await listen(server, options.port, options.host);
  } catch (error) {
    await storage.close();
    throw error;
  }
  endpoint.port = address.port;
  const retention = setInterval(() => {
    try {
      const removed = storage.applyRetention(Date.now());
      if (removed > 0) log.info('retention removed segments', { segments: removed });
    } catch (error) {
      log.error('retention failed', { error });
    }
  }, options.retentionCheckIntervalMs);
  retention.unref();
  log.info('broker listening', {
    host: options.host,
    port: address.port,
    advertised: `${endpoint.host}:${endpoint.port}`,
    dataDir: options.dataDir ?? null,
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(retention);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      groups.close();
      for (const connection of [...connections]) connection.close();
      await closed;
      await storage.close();
      log.info('broker stopped', { port: address.port });
    })();
    return stopping;
  };
  return {
    host: endpoint.host,
    port: endpoint.port,
    brokers: `${endpoint.host}:${endpoint.port}`,
    stop,
  };
}
