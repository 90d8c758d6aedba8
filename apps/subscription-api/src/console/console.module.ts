import { Module, type DynamicModule } from '@nestjs/common';
import type { ConsoleConfig } from './console.config';
import { CONSOLE_CONFIG, ConsoleController } from './console.controller';

/** The partner console's static files at `/console` (see ConsoleController). */
@Module({})
export class ConsoleModule {
  static forRoot(config: ConsoleConfig): DynamicModule {
    return {
      module: ConsoleModule,
      controllers: [ConsoleController],
      providers: [{ provide: CONSOLE_CONFIG, useValue: config }],
    };
  }
}
