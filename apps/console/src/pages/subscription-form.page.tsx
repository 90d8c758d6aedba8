import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { ApiProblem } from '../api/api-problem';
import type { Subscription } from '../api/herald.types';
import { Field } from '../components/fields';
import { Link } from '../components/link';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import {
  EMPTY_FORM,
  createSubscriptionBody,
  fieldOfPointer,
  formValuesOf,
  matchedTypes,
  MIN_MAX_PER_SECOND,
  subscriptionFormProblems,
  updateSubscriptionBody,
  type FieldErrors,
  type FormField,
  type SubscriptionFormValues,
} from '../forms/subscription-form.rules';
import { useAction, useLoad, usePageTitle } from '../hooks';
import { pathOf } from '../routes';

type FormProps =
  | { readonly mode: 'create'; readonly types: string | null }
  | { readonly mode: 'edit'; readonly id: string };

const fieldId = (field: FormField) => `subscription-${field}`;

/** Creating or editing a subscription: the form checks each field as the partner types. */
export function SubscriptionFormPage(props: FormProps) {
  const { api } = useConsole();
  const id = props.mode === 'edit' ? props.id : null;
  const loaded = useLoad(
    () => (id === null ? Promise.resolve(null) : api.getSubscription(id)),
    [api, id],
  );
  usePageTitle(props.mode === 'create' ? 'New subscription' : 'Edit subscription');

  if (props.mode === 'edit' && loaded.data == null) {
    return (
      <>
        <h1 tabIndex={-1}>Edit subscription</h1>
        <ProblemAlert problem={loaded.problem} label="The subscription could not be loaded." />
        {loaded.problem ? null : <p role="status">Loading…</p>}
      </>
    );
  }
  const original = loaded.data ?? null;
  return (
    <SubscriptionForm
      original={original}
      initial={
        original === null
          ? { ...EMPTY_FORM, types: props.mode === 'create' ? (props.types ?? '') : '' }
          : formValuesOf(original)
      }
    />
  );
}

function SubscriptionForm({
  original,
  initial,
}: {
  original: Subscription | null;
  initial: SubscriptionFormValues;
}) {
  const { api, catalog, navigate, revealSecret } = useConsole();
  const mode = original === null ? 'create' : 'edit';
  const [values, setValues] = useState(initial);
  const [touched, setTouched] = useState<ReadonlySet<FormField>>(
    () => new Set(initial.types === '' ? [] : (['types'] as FormField[])),
  );
  const [submitted, setSubmitted] = useState(false);
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const save = useAction();

  const catalogTypes = catalog === null ? null : catalog.map((eventType) => eventType.type);
  const problems = subscriptionFormProblems(values, mode, catalogTypes);
  const shown = (field: FormField): string | undefined =>
    serverErrors[field] ?? (submitted || touched.has(field) ? problems[field] : undefined);

  const set = <F extends FormField>(field: F, value: SubscriptionFormValues[F]) => {
    setValues((current) => ({ ...current, [field]: value }));
    setTouched((current) => new Set(current).add(field));
    setServerErrors((current) => ({ ...current, [field]: undefined }));
  };
  const touch = (field: FormField) => setTouched((current) => new Set(current).add(field));

  // The server named fields: put each message under its field as well as in the alert.
  useEffect(() => {
    const problem = save.problem;
    if (!(problem instanceof ApiProblem)) return;
    const next: FieldErrors = {};
    for (const error of problem.errors) {
      const field = fieldOfPointer(error.pointer);
      if (field !== undefined && next[field] === undefined) next[field] = error.message;
    }
    setServerErrors(next);
  }, [save.problem]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setSubmitted(true);
    const invalid = (Object.keys(problems) as FormField[])[0];
    if (invalid !== undefined) {
      document.getElementById(fieldId(invalid))?.focus();
      return;
    }
    if (original === null) {
      const created = await save.run(() => api.createSubscription(createSubscriptionBody(values)));
      if (created === undefined) return;
      if (created.secret) revealSecret(created.id, created.secret);
      navigate(pathOf({ page: 'subscription', id: created.id }));
      return;
    }
    const patch = updateSubscriptionBody(values, original);
    if (Object.keys(patch).length > 0) {
      const saved = await save.run(() =>
        api.updateSubscription(original.id, patch, original.version),
      );
      if (saved === undefined) return;
    }
    navigate(pathOf({ page: 'subscription', id: original.id }));
  };

  const control = (
    field: FormField,
    label: string,
    hint: ReactNode,
    render: (props: {
      id: string;
      'aria-describedby': string | undefined;
      'aria-invalid': boolean;
      onBlur: () => void;
    }) => ReactNode,
  ) => (
    <Field id={fieldId(field)} label={label} hint={hint} error={shown(field)}>
      {(describedBy, invalid) =>
        render({
          id: fieldId(field),
          'aria-describedby': describedBy,
          'aria-invalid': invalid,
          onBlur: () => touch(field),
        })
      }
    </Field>
  );

  /** A box for one of the endpoint's credentials: never offered to the browser's autofill. */
  const credential = (
    field: 'authToken' | 'authUsername' | 'authPassword',
    label: string,
    type: 'text' | 'password',
  ) =>
    control(field, label, null, (props) => (
      <input
        {...props}
        type={type}
        autoComplete={type === 'password' ? 'new-password' : 'off'}
        spellCheck={false}
        value={values[field]}
        onChange={(event) => set(field, event.target.value)}
      />
    ));

  const matches = catalogTypes === null ? [] : matchedTypes(values.types, catalogTypes);
  const count = Object.keys(problems).length;
  const webhook = values.kind === 'webhook';
  const title =
    original === null ? 'New subscription' : `Edit ${original.description ?? original.id}`;

  return (
    <>
      <h1 tabIndex={-1}>{title}</h1>
      <ProblemAlert problem={save.problem} label="Herald did not save the subscription." />
      {submitted && count > 0 ? (
        <div role="alert" className="alert alert-error">
          <p>
            {count === 1 ? 'One field needs' : `${count} fields need`} fixing before the
            subscription can be saved.
          </p>
        </div>
      ) : null}
      <form className="card form" noValidate onSubmit={(event) => void submit(event)}>
        {original === null ? (
          <fieldset className="choices">
            <legend>Delivery by</legend>
            {(
              [
                ['webhook', 'Webhook', 'Herald POSTs each event to your URL, signed and retried.'],
                [
                  'stream',
                  'Stream',
                  'You read events over SSE, WebSocket or polling, resuming where you left off.',
                ],
              ] as const
            ).map(([kind, label, hint]) => (
              <label key={kind} className="choice">
                <input
                  type="radio"
                  name="kind"
                  value={kind}
                  checked={values.kind === kind}
                  onChange={() => set('kind', kind)}
                />
                <span>
                  <strong>{label}</strong> <span className="muted">{hint}</span>
                </span>
              </label>
            ))}
          </fieldset>
        ) : null}

        {webhook
          ? control(
              'url',
              'Webhook URL',
              'Where Herald sends events: http or https, reachable from Herald.',
              (props) => (
                <input
                  {...props}
                  type="text"
                  inputMode="url"
                  autoComplete="url"
                  spellCheck={false}
                  placeholder="https://example.com/webhooks/herald"
                  value={values.url}
                  onChange={(event) => set('url', event.target.value)}
                />
              ),
            )
          : null}

        {control(
          'types',
          'Event types',
          <>
            Types or globs, separated by commas: <code>order.*</code>, <code>kitchen.**</code>.{' '}
            {matches.length > 0 ? (
              <span>
                Matches {matches.length === 1 ? 'one type' : `${matches.length} types`}:{' '}
                <code>{matches.slice(0, 8).join(', ')}</code>
                {matches.length > 8 ? ', …' : ''}.
              </span>
            ) : null}
          </>,
          (props) => (
            <input
              {...props}
              type="text"
              spellCheck={false}
              value={values.types}
              onChange={(event) => set('types', event.target.value)}
            />
          ),
        )}

        {control(
          'filter',
          'Filter (optional)',
          <>
            A JSON query over the CloudEvent, like <code>{'{"data.total": {"$gt": 100}}'}</code>.
            Operators: $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $and $or $not.
          </>,
          (props) => (
            <textarea
              {...props}
              className="code"
              rows={3}
              spellCheck={false}
              value={values.filter}
              onChange={(event) => set('filter', event.target.value)}
            />
          ),
        )}

        <div className="field-row">
          {webhook
            ? control('format', 'Body format', null, (props) => (
                <select
                  {...props}
                  value={values.format}
                  onChange={(event) =>
                    set('format', event.target.value as SubscriptionFormValues['format'])
                  }
                >
                  <option value="cloudevents">CloudEvents (structured JSON)</option>
                  <option value="standard">Standard Webhooks ({'{type, timestamp, data}'})</option>
                  <option value="tmf688">TMF688 event</option>
                </select>
              ))
            : null}
          {webhook
            ? control('ordering', 'Ordering', null, (props) => (
                <select
                  {...props}
                  value={values.ordering}
                  onChange={(event) =>
                    set('ordering', event.target.value as SubscriptionFormValues['ordering'])
                  }
                >
                  <option value="key">In order per key</option>
                  <option value="none">No ordering (faster)</option>
                </select>
              ))
            : null}
          {original === null
            ? control('from', 'Start from', null, (props) => (
                <select
                  {...props}
                  value={values.from}
                  onChange={(event) =>
                    set('from', event.target.value as SubscriptionFormValues['from'])
                  }
                >
                  <option value="latest">New events only</option>
                  <option value="earliest">The oldest event Kafka holds</option>
                  <option value="time">A point in time</option>
                </select>
              ))
            : null}
          {original === null && values.from === 'time'
            ? control('fromTime', 'Start time', 'In your time zone.', (props) => (
                <input
                  {...props}
                  type="datetime-local"
                  step={1}
                  value={values.fromTime}
                  onChange={(event) => set('fromTime', event.target.value)}
                />
              ))
            : null}
        </div>

        {control(
          'description',
          'Description (optional)',
          'A name for you and your team.',
          (props) => (
            <input
              {...props}
              type="text"
              value={values.description}
              onChange={(event) => set('description', event.target.value)}
            />
          ),
        )}

        <fieldset>
          <legend>Delivery settings</legend>
          <div className="field-row">
            {webhook
              ? control(
                  'retrySchedule',
                  'Retry schedule',
                  'Waits before each retry, like 5s, 5m, 30m. After the last, the event becomes a dead letter. Empty: Herald’s default (about 32 hours).',
                  (props) => (
                    <input
                      {...props}
                      type="text"
                      spellCheck={false}
                      value={values.retrySchedule}
                      onChange={(event) => set('retrySchedule', event.target.value)}
                    />
                  ),
                )
              : null}
            {webhook
              ? control('maxInFlight', 'Deliveries at once', '1 to 1000.', (props) => (
                  <input
                    {...props}
                    type="number"
                    min={1}
                    max={1000}
                    value={values.maxInFlight}
                    onChange={(event) => set('maxInFlight', event.target.value)}
                  />
                ))
              : null}
            {webhook
              ? control(
                  'maxPerSecond',
                  'Requests per second (optional)',
                  `${MIN_MAX_PER_SECOND} to 10000. Empty: no limit.`,
                  (props) => (
                    <input
                      {...props}
                      type="number"
                      min={MIN_MAX_PER_SECOND}
                      max={10_000}
                      step="any"
                      value={values.maxPerSecond}
                      onChange={(event) => set('maxPerSecond', event.target.value)}
                    />
                  ),
                )
              : null}
            {webhook
              ? control(
                  'verification',
                  'Ownership check',
                  'Herald checks that the endpoint wants the events before sending any.',
                  (props) => (
                    <select
                      {...props}
                      value={values.verification}
                      onChange={(event) =>
                        set(
                          'verification',
                          event.target.value as SubscriptionFormValues['verification'],
                        )
                      }
                    >
                      <option value="">Herald’s default</option>
                      <option value="none">None</option>
                      <option value="websub">WebSub challenge</option>
                      <option value="cloudevents">CloudEvents handshake</option>
                    </select>
                  ),
                )
              : null}
          </div>
        </fieldset>

        {webhook ? (
          <fieldset>
            <legend>Endpoint authentication</legend>
            <div className="field-row">
              {control(
                'auth',
                'Credentials',
                'Sent in the Authorization header of every request. Stored encrypted, never shown again.',
                (props) => (
                  <select
                    {...props}
                    value={values.auth}
                    onChange={(event) =>
                      set('auth', event.target.value as SubscriptionFormValues['auth'])
                    }
                  >
                    {original?.auth ? (
                      <option value="keep">
                        Keep the stored{' '}
                        {original.auth.type === 'bearer'
                          ? 'bearer token'
                          : 'user name and password'}
                      </option>
                    ) : null}
                    <option value="none">None</option>
                    <option value="bearer">
                      {original?.auth ? 'A new bearer token' : 'Bearer token'}
                    </option>
                    <option value="basic">
                      {original?.auth
                        ? 'A new user name and password'
                        : 'User name and password (Basic)'}
                    </option>
                  </select>
                ),
              )}
              {values.auth === 'bearer'
                ? credential('authToken', 'Bearer token', 'password')
                : null}
              {values.auth === 'basic' ? credential('authUsername', 'User name', 'text') : null}
              {values.auth === 'basic' ? credential('authPassword', 'Password', 'password') : null}
            </div>
          </fieldset>
        ) : null}

        <div className="actions">
          <button type="submit" className="button-primary" disabled={save.busy}>
            {save.busy ? 'Saving…' : original === null ? 'Create subscription' : 'Save changes'}
          </button>
          <Link
            to={
              original === null
                ? pathOf({ page: 'subscriptions' })
                : pathOf({ page: 'subscription', id: original.id })
            }
          >
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}
