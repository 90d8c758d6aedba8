import './libuv-pool';
import { loadConfigOrExit } from '@herald/config';
import { exitOnStartFailure } from '@herald/contract';
import { createObservability } from '@herald/observability';
import { SERVICE } from './app.module';
import { startFanout } from './fanout.app';
import { fanoutConfigFragments } from './fanout.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(fanoutConfigFragments);
  const observability = createObservability(SERVICE, config.observability);
  try {
    await startFanout(config, observability);
  } catch (error) {
    // A bad contract (78, as ingest-bridge), a port in use: say why as a log line and stop.
    exitOnStartFailure(observability.logger, error, 'fanout could not start');
  }
}

void main();
