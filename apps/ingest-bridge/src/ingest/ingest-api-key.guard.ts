import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiKeyGuard } from '@herald/auth';
import { RedisDeadline } from './redis-deadline';

/**
 * ApiKeyGuard within the ingest's Redis deadline: a key that is neither the admin key nor cached
 * is looked up in Redis, and while Redis is away that lookup would wait for it. The lookup only
 * reads, so giving up on it leaves nothing to undo.
 */
@Injectable()
export class IngestApiKeyGuard implements CanActivate {
  constructor(
    @Inject(ApiKeyGuard) private readonly apiKeys: ApiKeyGuard,
    @Inject(RedisDeadline) private readonly redis: RedisDeadline,
  ) {}

  canActivate(context: ExecutionContext): Promise<boolean> {
    return this.redis.run('authenticate', () => this.apiKeys.canActivate(context));
  }
}
