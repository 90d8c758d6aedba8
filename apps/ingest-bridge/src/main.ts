import { loadConfigOrExit } from '@herald/config';
import { ContractError, loadContract, reportContractLoad } from '@herald/contract';
import { createObservability } from '@herald/observability';
import { SERVICE } from './app.module';
import { startIngestBridge } from './ingest-bridge.app';
import { ingestBridgeConfigFragments } from './ingest-bridge.config';

async function main(): Promise<void> {
  const config = loadConfigOrExit(ingestBridgeConfigFragments);
  const observability = createObservability(SERVICE, config.observability);
  const { dir, cacheDir } = config.contract;
  const contract = await loadContract(dir, { cacheDir }).catch((error: unknown) => {
    if (error instanceof ContractError)
      observability.logger.fatal({ problems: error.problems }, error.message);
    else observability.logger.fatal({ err: error }, 'could not load the contract');
    process.exit(78);
  });
  reportContractLoad(contract, observability.logger, observability.metrics.contractDocuments);
  for (const warning of contract.warnings()) observability.logger.warn(warning, 'contract warning');
  await startIngestBridge(config, observability, contract);
}

void main();
