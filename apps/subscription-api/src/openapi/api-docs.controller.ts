import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Controller, Get, Header, Inject, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { UnknownAssetError } from './api-docs.errors';
import { API_DOCS_INIT_SCRIPT, renderApiDocs } from './api-docs.page';
import { OpenApiDocument } from './openapi.document';

/** Swagger UI files served from the swagger-ui-dist package (a dependency of @nestjs/swagger). */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};

interface AssetReply {
  header(name: string, value: string): unknown;
}

/** `/openapi.json` and the `/api-docs` page with its assets. */
@ApiExcludeController()
@Controller()
export class ApiDocsController {
  private readonly assetDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  private readonly assetCache = new Map<string, Buffer>();

  constructor(@Inject(OpenApiDocument) private readonly document: OpenApiDocument) {}

  @Get('openapi.json')
  openApi() {
    return this.document.get();
  }

  @Get('api-docs')
  @Header('content-type', 'text/html; charset=utf-8')
  page(): string {
    return renderApiDocs(this.document.get());
  }

  @Get('api-docs/assets/:name')
  async asset(@Param('name') name: string, @Res({ passthrough: true }) reply: AssetReply) {
    reply.header('cache-control', 'public, max-age=3600');
    if (name === 'api-docs-init.js') {
      reply.header('content-type', 'application/javascript; charset=utf-8');
      return API_DOCS_INIT_SCRIPT;
    }
    const contentType = ASSETS[name];
    if (contentType === undefined) throw new UnknownAssetError(name);
    let content = this.assetCache.get(name);
    if (!content) {
      content = await readFile(join(this.assetDir, name));
      this.assetCache.set(name, content);
    }
    reply.header('content-type', contentType);
    return content;
  }
}
