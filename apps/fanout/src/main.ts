import './libuv-pool';
import { loadConfigOrExit } from '@herald/config';
import { createObservability } from '@herald/observability';
import { SERVICE } from './app.module';
import { startFanout } from './fanout.app';
import { fanoutConfigFragments } from './fanout.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(fanoutConfigFragments);
  const observability = createObservability(SERVICE, config.observability);
  await startFanout(config, observability);
}

void main();
