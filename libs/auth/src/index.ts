export { authConfig, type AuthConfig } from './auth.config';
export { UnauthenticatedError, ForbiddenError, InvalidScopesError } from './auth.errors';
export { Principal } from './principal';
export { parseScopeGrants } from './scope-grants';
export { Authenticator, BOOTSTRAP_ADMIN_TENANT } from './authenticator';
export {
  ApiKeyGuard,
  RequireScope,
  AllowQueryToken,
  CurrentPrincipal,
  presentedToken,
} from './api-key.guard';
export { BoundedApiKeyGuard } from './bounded-api-key.guard';
export { AuthModule } from './auth.module';
export {
  ApiKeyDeletionListener,
  apiKeyDeletionListener,
  type ApiKeyDeletion,
  type ApiKeyDeletedHandler,
  type ApiKeyResyncHandler,
} from './api-key-deletion.listener';
