import { HeraldError } from '@herald/errors';
import type { Logger } from '@herald/observability';

/** An RFC 9457 problem body. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  [extension: string]: unknown;
}

const SUFFIX_STATUS: [string, number][] = [
  ['.unauthenticated', 401],
  ['.forbidden', 403],
  ['.not_found', 404],
  ['.conflict', 409],
  ['.too_large', 413],
  ['.unsupported_media_type', 415],
  ['.unprocessable', 422],
  ['.rate_limited', 429],
  ['.unavailable', 503],
  ['.invalid', 400],
];

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** The HTTP status for a HeraldError code, by its suffix (see HeraldError); 500 when none fits. */
export function statusForCode(code: string): number {
  for (const [suffix, status] of SUFFIX_STATUS) {
    // `.not_found` also matches `ingest.type_not_found`: the kind is the code's last words.
    if (code.endsWith(suffix) || code.endsWith(`_${suffix.slice(1)}`)) return status;
  }
  return 500;
}

/** Codes for Nest's and Fastify's own HTTP errors (routing, body parsing, size limits). */
const HTTP_STATUS_CODES: Record<number, string> = {
  400: 'http.invalid',
  404: 'http.not_found',
  405: 'http.method_not_allowed',
  413: 'http.too_large',
  414: 'http.uri_too_long',
  415: 'http.unsupported_media_type',
};

/** Fastify's own failures (before a handler runs) mapped to our codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'http.unsupported_media_type',
  FST_ERR_CTP_BODY_TOO_LARGE: 'http.too_large',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'http.invalid',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'http.invalid',
  FST_ERR_CTP_INVALID_JSON_BODY: 'http.invalid',
  FST_ERR_BAD_URL: 'http.invalid',
};

interface StatusError {
  statusCode?: number;
  status?: number;
  code?: string;
  message?: string;
  getStatus?: () => number;
  getResponse?: () => unknown;
}

/** Turns anything thrown while serving a request into a problem; unexpected errors are 500s. */
export function toProblem(error: unknown): {
  problem: Problem;
  retryAfterSeconds?: number;
  unexpected: boolean;
} {
  if (error instanceof HeraldError) {
    const status = statusForCode(error.code);
    return {
      problem: { ...error.details, ...problemOf(error.code, status, error.message) },
      retryAfterSeconds: error.retryAfterSeconds,
      unexpected: status === 500,
    };
  }
  const e = (error ?? {}) as StatusError;
  const fastifyCode = e.code !== undefined ? FASTIFY_CODES[e.code] : undefined;
  if (fastifyCode) {
    const status = statusForCode(fastifyCode);
    return {
      problem: problemOf(fastifyCode, status, e.message ?? 'Request failed'),
      unexpected: false,
    };
  }
  if (typeof e.getStatus === 'function') {
    // A Nest HttpException: deliberate, so never logged as a failure; an object body (Terminus's
    // health report) is kept as problem extensions.
    const status = e.getStatus();
    const response = typeof e.getResponse === 'function' ? e.getResponse() : undefined;
    const extensions =
      response && typeof response === 'object'
        ? omitMessage(response as Record<string, unknown>)
        : {};
    const code = HTTP_STATUS_CODES[status] ?? `http.${status}`;
    return {
      problem: { ...extensions, ...problemOf(code, status, messageOf(e)) },
      unexpected: false,
    };
  }
  const status = e.statusCode ?? e.status ?? 500;
  if (status >= 500) {
    return {
      problem: problemOf(
        'internal',
        500,
        'The server failed to handle this request; it has been logged.',
      ),
      unexpected: true,
    };
  }
  return {
    problem: problemOf(
      HTTP_STATUS_CODES[status] ?? `http.${status}`,
      status,
      e.message ?? 'Request failed',
    ),
    unexpected: false,
  };
}

function problemOf(code: string, status: number, detail: string): Problem {
  return {
    type: `urn:herald:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    code,
  };
}

function omitMessage(response: Record<string, unknown>): Record<string, unknown> {
  const { message: _message, statusCode: _statusCode, error: error, ...rest } = response;
  // Nest's default bodies carry `error: 'Not Found'` (a title); Terminus's carry an object.
  return typeof error === 'object' ? { ...rest, error } : rest;
}

function messageOf(e: StatusError): string {
  const response = typeof e.getResponse === 'function' ? e.getResponse() : undefined;
  if (response && typeof response === 'object' && 'message' in response) {
    const message = response.message;
    return Array.isArray(message) ? message.join('; ') : String(message);
  }
  if (typeof response === 'string') return response;
  return e.message ?? 'Request failed';
}

/**
 * Answers bytes the HTTP parser refused (headers over the size limit, forbidden characters, a
 * broken request line) with a problem, on the raw socket since no request exists, then closes.
 */
export function writeClientErrorProblem(
  error: Error & { code?: string },
  socket: { destroyed: boolean; writable: boolean; end(data: string): unknown; destroy(): void },
): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'The request headers are larger than the server accepts']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'The request did not arrive in time']
        : [400, 'The request is not valid HTTP'];
  const body = JSON.stringify(problemOf(`http.${status}`, status, detail));
  if (!socket.writable) return socket.destroy();
  socket.end(
    `HTTP/1.1 ${status} ${TITLES[status] ?? 'Error'}\r\nContent-Type: application/problem+json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** The parts of a Fastify request and reply a problem needs (whatever the server's raw types). */
export interface ProblemRequest {
  method: string;
  url: string;
}
export interface ProblemReply {
  header(name: string, value: string): unknown;
  status(code: number): unknown;
  type(contentType: string): unknown;
  send(payload: unknown): unknown;
}

/** Query parameters that carry a credential (streams take the API key as `?access_token=`). */
const SECRET_PARAMETERS = new Set(['access_token']);

/**
 * A request URL fit for the log: credentials in its query string are replaced. Parameters are
 * known by name as Fastify reads them: the query starts at the first `?` or `#`, and a name is
 * decoded (`+`, `%XX`), so `access%5Ftoken` is `access_token` (any case is redacted too).
 */
export function loggableUrl(url: string): string {
  const start = url.search(/[?#]/);
  if (start === -1) return url;
  const parameters = url
    .slice(start + 1)
    .split('&')
    .map((parameter) => {
      const equals = parameter.indexOf('=');
      if (equals === -1) return parameter;
      const name = decodedParameterName(parameter.slice(0, equals)).toLowerCase();
      return SECRET_PARAMETERS.has(name) ? `${parameter.slice(0, equals)}=[redacted]` : parameter;
    });
  return `${url.slice(0, start + 1)}${parameters.join('&')}`;
}

function decodedParameterName(name: string): string {
  const spaced = name.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced; // Fastify keeps a name that does not decode as it is, and so do we
  }
}

export function sendProblem(
  error: unknown,
  request: ProblemRequest,
  reply: ProblemReply,
  logger: Logger,
): void {
  const { problem, retryAfterSeconds, unexpected } = toProblem(error);
  if (unexpected)
    logger.error(
      { err: error, method: request.method, url: loggableUrl(request.url) },
      'request failed',
    );
  writeProblem(problem, retryAfterSeconds, request, reply);
}

/** Seconds a client refused by a closing server waits: another instance takes the retry. */
const SHUTTING_DOWN_RETRY_AFTER_SECONDS = 1;

/**
 * The answer to a request that arrives once the server has begun to close (after the app's
 * modules have shut down): 503 `server.shutting_down`, retried elsewhere after `Retry-After`.
 */
export function sendShuttingDownProblem(request: ProblemRequest, reply: ProblemReply): void {
  const problem = problemOf(
    'server.shutting_down',
    503,
    'The server is shutting down and takes no more requests; retry, another instance will answer',
  );
  writeProblem(problem, SHUTTING_DOWN_RETRY_AFTER_SECONDS, request, reply);
}

function writeProblem(
  problem: Problem,
  retryAfterSeconds: number | undefined,
  request: ProblemRequest,
  reply: ProblemReply,
): void {
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(retryAfterSeconds));
  if (problem.status === 401) reply.header('www-authenticate', 'Bearer');
  reply.status(problem.status);
  reply.type('application/problem+json');
  reply.send({ ...problem, instance: request.url.split('?')[0] });
}
