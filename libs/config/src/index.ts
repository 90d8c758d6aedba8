export { configFragment, type ConfigFragment, type ConfigOf } from './config-fragment';
export { loadConfig, loadConfigOrExit } from './config.loader';
export { ConfigError, maskCredentials, type ConfigIssue } from './config.errors';
export * as env from './config.schemas';
