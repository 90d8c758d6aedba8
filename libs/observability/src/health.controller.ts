import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { OBSERVABILITY_CONFIG } from './observability.tokens';
import type { ObservabilityConfig } from './observability.config';
import { ReadinessRegistry } from './readiness.registry';

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessRegistry,
    @Inject(OBSERVABILITY_CONFIG) private readonly config: ObservabilityConfig,
  ) {}

  /** Up while the event loop answers: restart me only when this fails. */
  @Get('live')
  @HealthCheck()
  live() {
    return namingFailures('Not live', this.health.check([]));
  }

  /** Up when every dependency answers in time and the process is not shutting down. */
  @Get('ready')
  @HealthCheck()
  ready() {
    const checks: HealthIndicatorFunction[] = [() => this.shutdownIndicator()];
    for (const [name, check] of this.readiness.entries()) checks.push(() => this.run(name, check));
    return namingFailures('Not ready', this.health.check(checks));
  }

  private shutdownIndicator() {
    const indicator = this.indicators.check('process');
    return this.readiness.isShuttingDown()
      ? indicator.down({ message: 'shutting down' })
      : indicator.up();
  }

  private async run(name: string, check: () => Promise<void>) {
    const indicator = this.indicators.check(name);
    const timeoutMs = this.config.healthCheckTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error) });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Terminus's 503 carries its report but only "Service Unavailable Exception" as message, which
 * becomes the problem's `detail`: name the failing checks there (`Not ready: redis, kafka`).
 */
async function namingFailures(
  what: string,
  report: Promise<HealthCheckResult>,
): Promise<HealthCheckResult> {
  try {
    return await report;
  } catch (error) {
    if (!(error instanceof ServiceUnavailableException)) throw error;
    const result = error.getResponse() as HealthCheckResult;
    const failing = Object.keys(result.error ?? {});
    const message = failing.length > 0 ? `${what}: ${failing.join(', ')}` : what;
    throw new ServiceUnavailableException({ ...result, message });
  }
}
