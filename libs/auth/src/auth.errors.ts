import { HeraldError } from '@herald/errors';

export class UnauthenticatedError extends HeraldError {
  constructor(message = 'A valid API key is required: send Authorization: Bearer <key>') {
    super('auth.unauthenticated', message);
  }
}

export class ForbiddenError extends HeraldError {
  constructor(message: string) {
    super('auth.forbidden', message);
  }
}

export class InvalidScopesError extends HeraldError {
  constructor(errors: { pointer: string; message: string }[]) {
    super(
      'auth.invalid_scopes',
      `Invalid scopes: ${errors.map((e) => `${e.pointer} ${e.message}`).join('; ')}`,
      {
        details: { errors },
      },
    );
  }
}
