export {
  observabilityConfig,
  type ObservabilityConfig,
  type LogLevel,
} from './observability.config';
export { createLogger, NestPinoLogger, type Logger } from './logger';
export { MetricsRegistry } from './metrics.registry';
export { ReadinessRegistry, type ReadinessCheck } from './readiness.registry';
export { ObservabilityModule, type ObservabilityOptions } from './observability.module';
export { createObservability, type Observability } from './observability';
export { LOGGER, OBSERVABILITY_CONFIG } from './observability.tokens';
export {
  Tracer,
  parseTraceparent,
  formatTraceparent,
  isTraceparent,
  type Span,
  type SpanKind,
  type SpanOptions,
  type SpanExporter,
  type FinishedSpan,
  type TraceContext,
  type AttributeValue,
} from './tracing';
export { OtlpExporter, encodeOtlpTraces, type OtlpExporterOptions } from './otlp.exporter';
