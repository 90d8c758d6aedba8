import {
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Scope } from '@herald/store';
import { ForbiddenError, UnauthenticatedError } from './auth.errors';
import { Authenticator } from './authenticator';
import type { Principal } from './principal';

const REQUIRED_SCOPE = 'herald:required-scope';
const QUERY_TOKEN = 'herald:query-token';

/** The scope a route needs (checked by ApiKeyGuard). */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

/** Also accept the key as `?access_token=` (browsers' EventSource cannot set headers). */
export const AllowQueryToken = () => SetMetadata(QUERY_TOKEN, true);

interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  query?: Record<string, unknown>;
  principal?: Principal;
}

/** The Principal ApiKeyGuard put on the request. */
export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => {
    const principal = context.switchToHttp().getRequest<AuthRequest>().principal;
    if (!principal) throw new UnauthenticatedError();
    return principal;
  },
);

/** Reads the bearer key from the request. */
export function presentedToken(request: AuthRequest, allowQuery: boolean): string | null {
  const header = request.headers.authorization;
  if (typeof header === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? match[1]! : null;
  }
  const query = request.query?.access_token;
  return allowQuery && typeof query === 'string' && query.length > 0 ? query : null;
}

/** 401 without a valid key, 403 when the key lacks the route's scope. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  /** The key the request presents where the route accepts it, or null. */
  tokenOf(context: ExecutionContext): string | null {
    const targets = [context.getHandler(), context.getClass()];
    return presentedToken(
      context.switchToHttp().getRequest<AuthRequest>(),
      this.reflector.getAllAndOverride<boolean>(QUERY_TOKEN, targets) ?? false,
    );
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const request = context.switchToHttp().getRequest<AuthRequest>();
    const token = this.tokenOf(context);
    if (token === null) throw new UnauthenticatedError();
    const principal = await this.authenticator.authenticate(token);
    if (!principal) throw new UnauthenticatedError('The API key is not valid');
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    if (scope && !principal.has(scope))
      throw new ForbiddenError(`This API key lacks the ${scope} scope`);
    request.principal = principal;
    return true;
  }
}
