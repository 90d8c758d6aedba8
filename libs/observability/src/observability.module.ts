import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import type { Logger } from './logger';
import { MetricsController } from './metrics.controller';
import { MetricsRegistry } from './metrics.registry';
import type { ObservabilityConfig } from './observability.config';
import { LOGGER, OBSERVABILITY_CONFIG } from './observability.tokens';
import { ReadinessRegistry } from './readiness.registry';

export interface ObservabilityOptions {
  config: ObservabilityConfig;
  logger: Logger;
  metrics: MetricsRegistry;
  readiness: ReadinessRegistry;
}

/**
 * `/metrics`, `/health/live`, `/health/ready`, and the process-wide logger, metrics registry and
 * readiness registry as injectables. The instances are created in `main.ts` (they exist before
 * Nest does, so bootstrap and shutdown can use them) and handed in here.
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions): DynamicModule {
    return {
      module: ObservabilityModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: OBSERVABILITY_CONFIG, useValue: options.config },
        { provide: LOGGER, useValue: options.logger },
        { provide: MetricsRegistry, useValue: options.metrics },
        { provide: ReadinessRegistry, useValue: options.readiness },
      ],
      exports: [OBSERVABILITY_CONFIG, LOGGER, MetricsRegistry, ReadinessRegistry],
    };
  }
}
