import { HeraldError } from '@herald/errors';

export class StoreUnavailableError extends HeraldError {
  constructor(cause: unknown) {
    super('store.unavailable', 'Redis did not answer', { retryable: true, cause });
  }
}

export class ApiKeyNotFoundError extends HeraldError {
  constructor(id: string) {
    super('store.api_key_not_found', `API key ${id} does not exist`);
  }
}
