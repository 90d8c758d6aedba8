import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ApiKeyRepository } from '@herald/store';
import type { AuthConfig } from './auth.config';
import { ApiKeyGuard } from './api-key.guard';
import { Authenticator } from './authenticator';

/** API-key authentication for an app's routes: `@UseGuards(ApiKeyGuard) @RequireScope(...)`. */
@Global()
@Module({})
export class AuthModule {
  static forRoot(config: AuthConfig): DynamicModule {
    return {
      module: AuthModule,
      providers: [
        {
          provide: Authenticator,
          inject: [ApiKeyRepository],
          useFactory: (keys: ApiKeyRepository) => new Authenticator(keys, config),
        },
        ApiKeyGuard,
      ],
      exports: [Authenticator, ApiKeyGuard],
    };
  }
}
