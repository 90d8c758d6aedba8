import type { ConfigOf } from '@herald/config';
import type { ContractRegistry } from '@herald/contract';
import { startHttpApp } from '@herald/http-server';
import type { Observability } from '@herald/observability';
import { AppModule } from './app.module';
import type { ingestBridgeConfigFragments } from './ingest-bridge.config';
import { useRawJsonBodies } from './ingest/raw-body.parser';

/** Starts ingest-bridge with a parsed config and a loaded contract (main.ts and tests). */
export function startIngestBridge(
  config: ConfigOf<typeof ingestBridgeConfigFragments>,
  observability: Observability,
  contract: ContractRegistry,
) {
  return startHttpApp({
    module: AppModule.forRoot(config, observability, contract),
    http: config.http,
    observability,
    bodyParser: false,
    configure: (app) => useRawJsonBodies(app, config.http.maxRequestBytes),
  });
}
