import type { Subscription, VerificationMode, WebhookFormat } from '../api/herald.types';
import { parseFilterText } from './event-filter.rules';
import { globMatches, splitGlobs, typeGlobProblem } from './event-type-glob.rules';

/** The subscription form as the partner fills it in: text, as typed. */
export interface SubscriptionFormValues {
  readonly kind: 'webhook' | 'stream';
  readonly url: string;
  readonly types: string;
  readonly filter: string;
  readonly format: WebhookFormat;
  readonly ordering: 'key' | 'none';
  readonly from: 'latest' | 'earliest' | 'time';
  /** A `datetime-local` value, read in the browser's time zone. */
  readonly fromTime: string;
  readonly description: string;
  /** Durations separated by commas or spaces; empty for Herald's default schedule. */
  readonly retrySchedule: string;
  readonly maxInFlight: string;
  readonly maxPerSecond: string;
  /** Empty for the server's default. */
  readonly verification: VerificationMode | '';
  /**
   * The credentials Herald presents to the endpoint: `keep` (editing a webhook that has some:
   * the stored ones, never shown), none, or new ones of a type.
   */
  readonly auth: EndpointAuthChoice;
  readonly authToken: string;
  readonly authUsername: string;
  readonly authPassword: string;
}

export type EndpointAuthChoice = 'keep' | 'none' | 'bearer' | 'basic';

/** The endpoint credentials as typed: the form's, and a secret rotation's. */
export type EndpointCredentials = Pick<
  SubscriptionFormValues,
  'auth' | 'authToken' | 'authUsername' | 'authPassword'
>;

/** The stored credentials kept, nothing typed. */
export const KEEP_CREDENTIALS: EndpointCredentials = {
  auth: 'keep',
  authToken: '',
  authUsername: '',
  authPassword: '',
};

export type FormField = keyof SubscriptionFormValues;
export type FieldErrors = Partial<Record<FormField, string>>;

export const EMPTY_FORM: SubscriptionFormValues = {
  kind: 'webhook',
  url: '',
  types: '',
  filter: '',
  format: 'cloudevents',
  ordering: 'key',
  from: 'latest',
  fromTime: '',
  description: '',
  retrySchedule: '',
  maxInFlight: '16',
  maxPerSecond: '',
  verification: '',
  auth: 'none',
  authToken: '',
  authUsername: '',
  authPassword: '',
};

const DURATION = /^(\d{1,12})(ms|s|m|h|d)$/;
/**
 * Most entries a retry schedule may have: what subscription-api's request schema accepts
 * (`retry.schedule`, at most 20), which is stricter than the delivery engine's own parser.
 */
export const MAX_RETRY_SCHEDULE_ENTRIES = 20;
/**
 * Herald's schedule for a subscription that names none (`DEFAULT_RETRY_SCHEDULE` in
 * `@herald/delivery`, which the browser bundle does not import; a test holds the two equal).
 */
export const DEFAULT_RETRY_SCHEDULE: readonly string[] = [
  '5s',
  '5m',
  '30m',
  '2h',
  '5h',
  '10h',
  '10h',
];
/**
 * The lowest `maxPerSecond` subscription-api takes (`MIN_MAX_PER_SECOND` of its request schema,
 * which the browser bundle does not import): fanout waits 1/maxPerSecond seconds between requests.
 */
export const MIN_MAX_PER_SECOND = 1;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 };
const WEEK_MS = 7 * 864e5;

/** Why a webhook URL will be refused for its form (Herald also checks where it points). */
export function webhookUrlProblem(text: string): string | undefined {
  if (text.trim() === '') return 'Enter the URL Herald should POST events to.';
  if (text.length > 2048) return 'The URL is longer than 2048 characters.';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'Enter a whole URL, like https://example.com/webhooks/herald.';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return `The URL must start with http:// or https://, not ${url.protocol}//.`;
  if (url.username !== '' || url.password !== '')
    return 'The URL must not contain a user name or password.';
  return undefined;
}

/**
 * Why the type globs will be refused: malformed, or (when the catalog is known) matching no
 * event type. Undefined when they are fine.
 */
export function typeGlobsProblem(
  text: string,
  catalog: readonly string[] | null,
): string | undefined {
  const globs = splitGlobs(text);
  if (globs.length === 0) return 'Name at least one event type or glob, like order.*.';
  if (globs.length > 50) return 'Name at most 50 globs.';
  for (const glob of globs) {
    // Its length too: subscription-api takes what the glob syntax takes (256 characters).
    const problem = typeGlobProblem(glob);
    if (problem) return `"${glob}" is not a glob: ${problem}.`;
  }
  if (catalog !== null) {
    const unmatched = globs.filter((glob) => !catalog.some((type) => globMatches(glob, type)));
    if (unmatched.length > 0)
      return `${unmatched.map((glob) => `"${glob}"`).join(', ')} matches no event type in the catalog.`;
  }
  return undefined;
}

/** The catalog's types the globs match, for showing while typing. */
export function matchedTypes(text: string, catalog: readonly string[]): string[] {
  const globs = splitGlobs(text).filter((glob) => typeGlobProblem(glob) === undefined);
  return catalog.filter((type) => globs.some((glob) => globMatches(glob, type)));
}

/** Why a retry schedule like `5s, 1m, 1h` will be refused; empty means the default. */
export function retryScheduleProblem(text: string): string | undefined {
  const entries = splitGlobs(text);
  if (entries.length > MAX_RETRY_SCHEDULE_ENTRIES)
    return `At most ${MAX_RETRY_SCHEDULE_ENTRIES} retries.`;
  for (const entry of entries) {
    const match = DURATION.exec(entry);
    if (!match)
      return `"${entry}" is not a duration; use a whole number with ms, s, m, h or d, like 30s.`;
    const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
    if (ms <= 0 || ms > WEEK_MS) return `"${entry}" must be more than 0 and at most 7d.`;
  }
  return undefined;
}

function numberProblem(
  text: string,
  {
    min,
    max,
    integer,
    optional,
  }: { min: number; max: number; integer: boolean; optional: boolean },
): string | undefined {
  const wanted = `${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`;
  if (text.trim() === '') return optional ? undefined : `Enter ${wanted}.`;
  const value = Number(text);
  const fits =
    Number.isFinite(value) && value >= min && value <= max && (!integer || Number.isInteger(value));
  return fits ? undefined : `Enter ${wanted}.`;
}

/**
 * Why the endpoint credentials will be refused, by field: the rules of subscription-api's
 * request schema (`auth`), which sends them in the Authorization header.
 */
export function endpointAuthProblems(
  values: EndpointCredentials,
): Partial<Record<'authToken' | 'authUsername' | 'authPassword', string>> {
  if (values.auth === 'bearer') {
    const token = values.authToken;
    if (token === '') return { authToken: 'Enter the token your endpoint expects.' };
    if (token.length > 4096) return { authToken: 'At most 4096 characters.' };
    if (!/^[\x21-\x7e]+$/.test(token))
      return {
        authToken:
          'Visible ASCII characters only, no spaces or line breaks: it goes in the Authorization header.',
      };
    return {};
  }
  if (values.auth === 'basic') {
    const problems: Partial<Record<'authUsername' | 'authPassword', string>> = {};
    const username = values.authUsername;
    if (username === '') problems.authUsername = 'Enter the user name your endpoint expects.';
    else if (username.length > 256) problems.authUsername = 'At most 256 characters.';
    else if (!/^[^:\p{Cc}]+$/u.test(username))
      problems.authUsername = 'No ":" or control characters (RFC 7617).';
    if (values.authPassword.length > 1024) problems.authPassword = 'At most 1024 characters.';
    return problems;
  }
  return {};
}

/** The request's `auth` for new credentials; undefined when the form names none to set. */
export function endpointAuthBody(values: EndpointCredentials): Record<string, string> | undefined {
  if (values.auth === 'bearer') return { type: 'bearer', token: values.authToken };
  if (values.auth === 'basic')
    return { type: 'basic', username: values.authUsername, password: values.authPassword };
  return undefined;
}

/** A `datetime-local` value as an RFC 3339 time, or null when it is not a time. */
export function localTimeToRfc3339(value: string): string | null {
  if (value.trim() === '') return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Every field's problem, in words; an empty object when the form can be sent. */
export function subscriptionFormProblems(
  values: SubscriptionFormValues,
  mode: 'create' | 'edit',
  catalog: readonly string[] | null,
): FieldErrors {
  const errors: Record<string, string | undefined> = {
    url: values.kind === 'webhook' ? webhookUrlProblem(values.url) : undefined,
    types: typeGlobsProblem(values.types, catalog),
    filter: (() => {
      const parsed = parseFilterText(values.filter);
      return parsed.ok ? undefined : parsed.message;
    })(),
    retrySchedule:
      values.kind === 'webhook' ? retryScheduleProblem(values.retrySchedule) : undefined,
    // A stream has none of these: its form neither shows nor sends them.
    maxInFlight:
      values.kind === 'webhook'
        ? numberProblem(values.maxInFlight, { min: 1, max: 1000, integer: true, optional: false })
        : undefined,
    maxPerSecond:
      values.kind === 'webhook'
        ? numberProblem(values.maxPerSecond, {
            min: MIN_MAX_PER_SECOND,
            max: 10_000,
            integer: false,
            optional: true,
          })
        : undefined,
    // Sent trimmed (commonFields), so judged trimmed.
    description: values.description.trim().length > 500 ? 'At most 500 characters.' : undefined,
    fromTime:
      mode === 'create' && values.from === 'time' && localTimeToRfc3339(values.fromTime) === null
        ? 'Choose the time to start from.'
        : undefined,
    ...(values.kind === 'webhook' ? endpointAuthProblems(values) : {}),
  };
  return Object.fromEntries(
    Object.entries(errors).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function commonFields(values: SubscriptionFormValues): Record<string, unknown> {
  const filter = parseFilterText(values.filter);
  const body: Record<string, unknown> = {
    types: splitGlobs(values.types),
    filter: filter.ok ? filter.filter : null,
    description: values.description.trim() === '' ? null : values.description.trim(),
  };
  // Webhook-only fields: subscription-api refuses them for a stream (400 "applies to webhooks
  // only"), which reads every event in Kafka order, as fast as its client takes them.
  if (values.kind === 'webhook') {
    body.url = values.url.trim();
    body.format = values.format;
    body.ordering = values.ordering;
    body.maxInFlight = Number(values.maxInFlight);
    body.maxPerSecond = values.maxPerSecond.trim() === '' ? null : Number(values.maxPerSecond);
    if (values.verification !== '') body.verification = values.verification;
    const schedule = splitGlobs(values.retrySchedule);
    if (schedule.length > 0) body.retry = { schedule };
  }
  return body;
}

/** The `POST /v1/subscriptions` body for a valid form. */
export function createSubscriptionBody(values: SubscriptionFormValues): Record<string, unknown> {
  const from =
    values.from === 'time' ? (localTimeToRfc3339(values.fromTime) ?? 'latest') : values.from;
  const body: Record<string, unknown> = { kind: values.kind, ...commonFields(values), from };
  const auth = values.kind === 'webhook' ? endpointAuthBody(values) : undefined;
  if (auth !== undefined) body.auth = auth;
  return body;
}

/**
 * The `PATCH` body: the fields the form changed, nothing else. A cleared retry schedule asks for
 * Herald's default by naming it: PATCH leaves an absent field as it is and has no "reset".
 */
export function updateSubscriptionBody(
  values: SubscriptionFormValues,
  original: Subscription,
): Record<string, unknown> {
  const wanted = commonFields({ ...values, kind: original.kind });
  if (original.kind === 'webhook' && wanted.retry === undefined)
    wanted.retry = { schedule: [...DEFAULT_RETRY_SCHEDULE] };
  const current: Record<string, unknown> = {
    types: original.types,
    filter: original.filter,
    ordering: original.ordering,
    maxInFlight: original.maxInFlight,
    maxPerSecond: original.maxPerSecond,
    description: original.description,
    url: original.url,
    format: original.format,
    verification: original.verification.mode,
    retry: original.retry,
  };
  const patch = Object.fromEntries(
    Object.entries(wanted).filter(
      ([field, value]) => JSON.stringify(value) !== JSON.stringify(current[field]),
    ),
  );
  // Credentials are never shown, so never compared: new ones are sent, `none` removes any.
  if (original.kind === 'webhook') {
    const auth = endpointAuthBody(values);
    if (auth !== undefined) patch.auth = auth;
    else if (values.auth === 'none' && original.auth !== null) patch.auth = null;
  }
  return patch;
}

/** A subscription as the form shows it for editing. */
export function formValuesOf(subscription: Subscription): SubscriptionFormValues {
  return {
    ...EMPTY_FORM,
    kind: subscription.kind,
    url: subscription.url ?? '',
    types: subscription.types.join(', '),
    filter: subscription.filter === null ? '' : JSON.stringify(subscription.filter, null, 2),
    format: subscription.format,
    ordering: subscription.ordering,
    description: subscription.description ?? '',
    retrySchedule: subscription.retry.schedule.join(', '),
    maxInFlight: String(subscription.maxInFlight),
    maxPerSecond: subscription.maxPerSecond === null ? '' : String(subscription.maxPerSecond),
    verification: subscription.verification.mode,
    auth: subscription.auth === null ? 'none' : 'keep',
  };
}

/** The form field a problem's JSON pointer names (`/types/0` is the types box). */
export function fieldOfPointer(pointer: string): FormField | undefined {
  const [, first = '', second = ''] = pointer.split('/');
  if (first === 'auth') {
    const credentials: Record<string, FormField> = {
      token: 'authToken',
      username: 'authUsername',
      password: 'authPassword',
    };
    return credentials[second] ?? 'auth';
  }
  const fields: Record<string, FormField> = {
    url: 'url',
    types: 'types',
    filter: 'filter',
    format: 'format',
    ordering: 'ordering',
    from: 'fromTime',
    retry: 'retrySchedule',
    maxInFlight: 'maxInFlight',
    maxPerSecond: 'maxPerSecond',
    verification: 'verification',
    description: 'description',
  };
  return fields[first];
}
