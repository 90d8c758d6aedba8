// Query parameters that carry credentials (`?password=…`, `&token=…`).
const SECRET_PARAM =
  /([?&;][^=&#\s]*(?:pass|secret|token|key|auth|credential)[^=&#\s]*=)[^&#\s]*/gi;

/**
 * `url` fit to print: its user info (`redis://user:password@`) becomes `***`, as do
 * secret-looking query parameters. Works on text that does not parse as a URL too.
 */
export function redactUrl(url: string): string {
  const scheme = url.indexOf('://');
  const start = scheme === -1 ? 0 : scheme + 3;
  const at = url.lastIndexOf('@');
  const masked = at >= start ? `${url.slice(0, start)}***${url.slice(at)}` : url;
  return masked.replace(SECRET_PARAM, '$1***');
}
