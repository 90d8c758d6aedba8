import type { OpenAPIObject } from '@nestjs/swagger';
import { escapeHtml } from '../catalog/contract-docs.page';

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/**
 * `/api-docs`: Swagger UI over `/openapi.json`, with its assets served by this app (no CDN),
 * and below it, for readers without JavaScript, a plain list of every operation.
 */
export function renderApiDocs(document: OpenAPIObject): string {
  const rows = Object.entries(document.paths).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = item[method];
      if (!operation) return [];
      return [
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${escapeHtml(path)}</code></td><td>${escapeHtml(operation.summary ?? '')}</td></tr>`,
      ];
    }),
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(document.info.title)}</title>
<link rel="stylesheet" href="/api-docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<noscript><h1>${escapeHtml(document.info.title)} ${escapeHtml(document.info.version)}</h1>
<p>The machine-readable document is <a href="/openapi.json">/openapi.json</a>.</p>
<table><thead><tr><th>Method</th><th>Path</th><th>What it does</th></tr></thead><tbody>${rows.join('')}</tbody></table></noscript>
<script src="/api-docs/assets/swagger-ui-bundle.js"></script>
<script src="/api-docs/assets/api-docs-init.js"></script>
</body></html>`;
}

export const API_DOCS_INIT_SCRIPT = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });\n`;
