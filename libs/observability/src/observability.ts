import { createLogger, type Logger } from './logger';
import { MetricsRegistry } from './metrics.registry';
import type { ObservabilityConfig } from './observability.config';
import { ReadinessRegistry } from './readiness.registry';

export interface Observability {
  config: ObservabilityConfig;
  logger: Logger;
  metrics: MetricsRegistry;
  readiness: ReadinessRegistry;
}

/** The per-process logger, metrics registry and readiness registry, made once in `main.ts`. */
export function createObservability(service: string, config: ObservabilityConfig): Observability {
  return {
    config,
    logger: createLogger(service, config.logLevel),
    metrics: new MetricsRegistry(service),
    readiness: new ReadinessRegistry(),
  };
}
