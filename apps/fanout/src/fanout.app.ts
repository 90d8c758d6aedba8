import type { ConfigOf } from '@herald/config';
import { startHttpApp } from '@herald/http-server';
import type { Observability } from '@herald/observability';
import { AppModule } from './app.module';
import type { DeliveryModuleOptions } from './delivery/delivery.module';
import type { fanoutConfigFragments } from './fanout.config';
import { allowStreamOrigins } from './streams/stream-cors';

/** Starts fanout with a parsed config (main.ts and in-process tests). */
export function startFanout(
  config: ConfigOf<typeof fanoutConfigFragments>,
  observability: Observability,
  delivery: DeliveryModuleOptions = {},
) {
  return startHttpApp({
    module: AppModule.forRoot(config, observability, delivery),
    http: config.http,
    observability,
    configure: (app) => allowStreamOrigins(app, config.streams.corsOrigins),
  });
}
