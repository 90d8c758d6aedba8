import { createLogger, type Logger } from './logger';
import { MetricsRegistry } from './metrics.registry';
import type { ObservabilityConfig } from './observability.config';
import { OtlpExporter } from './otlp.exporter';
import { ReadinessRegistry } from './readiness.registry';
import { Tracer } from './tracing';

export interface Observability {
  config: ObservabilityConfig;
  logger: Logger;
  metrics: MetricsRegistry;
  readiness: ReadinessRegistry;
  tracer: Tracer;
}

/** The per-process logger, metrics registry, readiness registry and tracer, made once in `main.ts`. */
export function createObservability(service: string, config: ObservabilityConfig): Observability {
  const logger = createLogger(service, config.logLevel);
  const metrics = new MetricsRegistry(service);
  const { otlpEndpoint, serviceName } = config.tracing;
  return {
    config,
    logger,
    metrics,
    readiness: new ReadinessRegistry(),
    tracer: new Tracer(
      otlpEndpoint === undefined
        ? undefined
        : new OtlpExporter({
            endpoint: otlpEndpoint,
            serviceName: serviceName ?? service,
            logger,
            spans: metrics.traceSpans,
          }),
    ),
  };
}
