import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { RedisDeadline } from '@herald/store';
import { ApiKeyGuard } from './api-key.guard';
import { Authenticator } from './authenticator';

/**
 * ApiKeyGuard within the app's Redis deadline (the app provides `RedisDeadline`, with an
 * `authenticate` operation): a key that is neither the admin key nor cached is looked up in
 * Redis, and while Redis is away that lookup would wait for it. The lookup only reads, so
 * giving up on it leaves nothing to undo. A key answered without Redis (no key, the admin key, a
 * cached one) is let through even while the deadline's circuit is open.
 */
@Injectable()
export class BoundedApiKeyGuard implements CanActivate {
  constructor(
    @Inject(ApiKeyGuard) private readonly apiKeys: ApiKeyGuard,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(RedisDeadline) private readonly redis: RedisDeadline<'authenticate'>,
  ) {}

  canActivate(context: ExecutionContext): Promise<boolean> {
    const token = this.apiKeys.tokenOf(context);
    const needsRedis = token !== null && !this.authenticator.answersWithoutRedis(token);
    return this.redis.run('authenticate', () => this.apiKeys.canActivate(context), {
      needsRedis,
    });
  }
}
