import { loadConfigOrExit } from '@herald/config';
import { startHttpApp } from '@herald/http-server';
import { createObservability } from '@herald/observability';
import { AppModule, SERVICE } from './app.module';
import { ingestBridgeConfigFragments } from './ingest-bridge.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ingestBridgeConfigFragments);
  const observability = createObservability(SERVICE, config.observability);
  await startHttpApp({
    module: AppModule.forRoot(config, observability),
    http: config.http,
    observability,
  });
}

void main();
