export { startBroker, type RunningBroker } from './broker';
export type { BrokerOptions } from './broker.options';
export { createJsonLogger, silentLogger, type BrokerLogger } from './broker.logger';
export type { FsyncPolicy } from './storage/storage.types';
