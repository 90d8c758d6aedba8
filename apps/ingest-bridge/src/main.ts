import { loadConfigOrExit } from '@herald/config';
import { exitOnStartFailure, loadContract, reportContractLoad } from '@herald/contract';
import { createObservability } from '@herald/observability';
import { SERVICE } from './app.module';
import { startIngestBridge } from './ingest-bridge.app';
import { ingestBridgeConfigFragments } from './ingest-bridge.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ingestBridgeConfigFragments);
  const observability = createObservability(SERVICE, config.observability);
  const { dir, cacheDir } = config.contract;
  try {
    const contract = await loadContract(dir, { cacheDir });
    reportContractLoad(contract, observability.logger, observability.metrics.contractDocuments);
    for (const warning of contract.warnings())
      observability.logger.warn(warning, 'contract warning');
    await startIngestBridge(config, observability, contract);
  } catch (error) {
    exitOnStartFailure(observability.logger, error, 'ingest-bridge could not start');
  }
}

void main();
