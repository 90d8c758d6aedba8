import { HeraldError } from '@herald/errors';

/** A file under /api-docs/assets that is not one of the Swagger UI files served (404). */
export class UnknownAssetError extends HeraldError {
  constructor(name: string) {
    super('api_docs.asset.not_found', `No asset ${name}`);
  }
}
