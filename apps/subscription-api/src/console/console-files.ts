import { extname } from 'node:path';

/** What a path under `/console/` names: a file of the build, or a page the single-page app routes. */
export type ConsoleTarget =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'page' }
  | { readonly kind: 'missing' };

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Maps the rest of a request path after `/console/` (no query) to what to serve. A last segment
 * with an extension is a file of the build; anything else is a client route, answered with
 * index.html. Segments that could leave the build folder (`..`, encoded slashes, NUL) or name a
 * hidden file (`.build-hash`) are missing, never read.
 */
export function consoleTarget(rest: string): ConsoleTarget {
  const segments = rest.split('/');
  if (segments[segments.length - 1] === '') segments.pop();
  if (segments.length === 0) return { kind: 'page' };
  const decoded: string[] = [];
  for (const segment of segments) {
    let name: string;
    try {
      name = decodeURIComponent(segment);
    } catch {
      return { kind: 'missing' };
    }
    if (name === '' || name.startsWith('.') || /[/\\\0]/.test(name)) return { kind: 'missing' };
    decoded.push(name);
  }
  const last = decoded[decoded.length - 1]!;
  return /\.[A-Za-z0-9]+$/.test(last)
    ? { kind: 'file', path: decoded.join('/') }
    : { kind: 'page' };
}

/** The content type a build file is served with; unknown extensions are plain bytes. */
export function consoleContentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/** Vite names files under assets/ by their content hash, so they never change: cache for a year. */
export function consoleCacheControl(path: string): string {
  return path.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/**
 * The Content-Security-Policy of the console's pages: its own scripts and styles only, API calls
 * to this origin and to the streams API (a different origin in most deployments), no framing.
 */
export function consoleContentSecurityPolicy(streamsUrl: string): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src 'self' ${new URL(streamsUrl).origin}`,
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
