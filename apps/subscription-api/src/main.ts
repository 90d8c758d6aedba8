import { loadConfigOrExit } from '@herald/config';
import { exitOnStartFailure } from '@herald/contract';
import { startHttpApp } from '@herald/http-server';
import { createObservability } from '@herald/observability';
import { AppModule, SERVICE } from './app.module';
import { subscriptionApiConfigFragments } from './subscription-api.config';
import { configureSubscriptionApi } from './subscription-api.setup';

async function main(): Promise<void> {
  const config = loadConfigOrExit(subscriptionApiConfigFragments);
  const observability = createObservability(SERVICE, config.observability);
  try {
    await startHttpApp({
      module: AppModule.forRoot(config, observability),
      // This API takes small JSON documents; larger bodies get 413 before they are read.
      http: {
        ...config.http,
        maxRequestBytes: Math.min(config.http.maxRequestBytes, config.subscriptions.maxBodyBytes),
      },
      observability,
      configure: (app) => configureSubscriptionApi(app, observability.logger),
    });
  } catch (error) {
    // A bad contract or secret key: say why and stop, rather than an unhandled rejection.
    exitOnStartFailure(observability.logger, error, 'subscription-api could not start');
  }
}

void main();
