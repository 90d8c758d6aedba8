import { configFragment, env } from '@herald/config';
import { z } from 'zod';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const observabilityConfig = configFragment(
  {
    LOG_LEVEL: env.oneOf(LOG_LEVELS, 'info'),
    HERALD_HEALTH_CHECK_TIMEOUT_MS: env.positiveInt(2000, 'milliseconds'),
    HERALD_SHUTDOWN_TIMEOUT_MS: env.positiveInt(10000, 'milliseconds'),
    HERALD_METRICS_PER_SUBSCRIPTION: env.flag(false),
    OTEL_EXPORTER_OTLP_ENDPOINT: env.url(['http', 'https']).optional(),
    OTEL_SERVICE_NAME: z.string().min(1).optional().describe('a service name for traces'),
  },
  (v) => ({
    logLevel: v.LOG_LEVEL,
    /** Each readiness check fails when it takes longer than this. */
    healthCheckTimeoutMs: v.HERALD_HEALTH_CHECK_TIMEOUT_MS,
    /** After SIGTERM, the process exits anyway once this much time has passed. */
    shutdownTimeoutMs: v.HERALD_SHUTDOWN_TIMEOUT_MS,
    metricsPerSubscription: v.HERALD_METRICS_PER_SUBSCRIPTION,
    tracing: {
      /** OTLP/HTTP collector base URL; unset means spans are neither recorded nor sent. */
      otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
      /** `service.name` on exported spans; the process's own service name when unset. */
      serviceName: v.OTEL_SERVICE_NAME,
    },
  }),
);

export type ObservabilityConfig = ReturnType<typeof observabilityConfig.build>;
