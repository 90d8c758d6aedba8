import { useState } from 'react';
import { Field } from '../components/fields';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import {
  endpointAuthBody,
  endpointAuthProblems,
  KEEP_CREDENTIALS,
  type EndpointCredentials,
} from '../forms/subscription-form.rules';
import { useAction } from '../hooks';

/** A signing secret Herald just made: shown here once, never again. */
export function RevealedSecret({ secret, onHide }: { secret: string; onHide: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('Copied to the clipboard.');
    } catch (error) {
      setCopied(`Could not copy (${(error as Error).message}); select the text and copy it.`);
    }
  };
  return (
    <section className="alert alert-secret" aria-labelledby="secret-heading">
      <h2 id="secret-heading">Signing secret</h2>
      <p>
        Herald signs every request with this secret (the <code>webhook-signature</code> header).
        This is the only time it is shown: store it now.
      </p>
      <p>
        <code className="secret" data-testid="signing-secret">
          {secret}
        </code>
      </p>
      <div className="actions">
        <button type="button" onClick={() => void copy()}>
          Copy secret
        </button>
        <button type="button" onClick={onHide}>
          I have stored it
        </button>
        <span role="status">{copied}</span>
      </div>
    </section>
  );
}

const GRACE_CHOICES = [
  [0, 'Stop at once'],
  [3600, 'One hour'],
  [86_400, 'One day'],
  [604_800, 'Seven days'],
] as const;

/**
 * Replaces the signing secret; the old one keeps signing until the grace period ends. A webhook
 * with endpoint credentials may send them again with it: how one whose stored secrets Herald can
 * no longer read is repaired (the API refuses a rotation without them then, and says so).
 */
export function RotateSecretSection({
  id,
  auth,
  onRotated,
}: {
  id: string;
  auth: { readonly type: 'bearer' | 'basic' } | null;
  onRotated: (secret: string) => void;
}) {
  const { api } = useConsole();
  const [grace, setGrace] = useState(86_400);
  const rotate = useAction();
  const [note, setNote] = useState<string | null>(null);
  const [credentials, setCredentials] = useState<EndpointCredentials>(KEEP_CREDENTIALS);
  const [checked, setChecked] = useState(false);
  const problems = endpointAuthProblems(credentials);
  const shown = (field: keyof typeof problems) => (checked ? problems[field] : undefined);
  const setCredential = (field: keyof typeof credentials, value: string) =>
    setCredentials((current) => ({ ...current, [field]: value }));

  const submit = async () => {
    setChecked(true);
    const invalid = Object.keys(problems)[0];
    if (invalid !== undefined) {
      document.getElementById(`rotate-${invalid}`)?.focus();
      return;
    }
    // Keep: none sent. None: removed. Otherwise the new ones.
    const body = credentials.auth === 'none' ? null : endpointAuthBody(credentials);
    const rotated = await rotate.run(() => api.rotateSecret(id, grace, body));
    if (rotated === undefined) return;
    setNote(
      rotated.previousSecretExpiresAt === null
        ? 'The old secret no longer signs.'
        : `The old secret also signs until ${new Date(rotated.previousSecretExpiresAt).toLocaleString()}.`,
    );
    setCredentials(KEEP_CREDENTIALS);
    setChecked(false);
    onRotated(rotated.secret);
  };

  const credentialInput = (
    field: 'authToken' | 'authUsername' | 'authPassword',
    label: string,
    type: 'text' | 'password',
  ) => (
    <Field id={`rotate-${field}`} label={label} error={shown(field)}>
      {(describedBy, invalid) => (
        <input
          id={`rotate-${field}`}
          aria-describedby={describedBy}
          aria-invalid={invalid}
          type={type}
          autoComplete={type === 'password' ? 'new-password' : 'off'}
          spellCheck={false}
          value={credentials[field]}
          onChange={(event) => setCredential(field, event.target.value)}
        />
      )}
    </Field>
  );

  return (
    <section className="card" aria-labelledby="rotate-heading">
      <h2 id="rotate-heading">Rotate the signing secret</h2>
      <p>
        Get a new secret. Until the grace period ends, requests carry two signatures, so your
        endpoint can switch without missing a beat.
      </p>
      <ProblemAlert problem={rotate.problem} label="The secret was not rotated." />
      <div className="field-row">
        <Field id="rotate-grace" label="Old secret keeps signing for">
          {(describedBy) => (
            <select
              id="rotate-grace"
              aria-describedby={describedBy}
              value={grace}
              onChange={(event) => setGrace(Number(event.target.value))}
            >
              {GRACE_CHOICES.map(([seconds, label]) => (
                <option key={seconds} value={seconds}>
                  {label}
                </option>
              ))}
            </select>
          )}
        </Field>
        {auth !== null ? (
          <Field
            id="rotate-auth"
            label="Endpoint credentials"
            hint="If Herald says it can no longer read the stored ones, send them again here."
          >
            {(describedBy) => (
              <select
                id="rotate-auth"
                aria-describedby={describedBy}
                value={credentials.auth}
                onChange={(event) => setCredential('auth', event.target.value)}
              >
                <option value="keep">Keep the stored ones</option>
                <option value="bearer">Send a bearer token</option>
                <option value="basic">Send a user name and password</option>
                <option value="none">Remove them</option>
              </select>
            )}
          </Field>
        ) : null}
        {credentials.auth === 'bearer'
          ? credentialInput('authToken', 'Bearer token', 'password')
          : null}
        {credentials.auth === 'basic' ? credentialInput('authUsername', 'User name', 'text') : null}
        {credentials.auth === 'basic'
          ? credentialInput('authPassword', 'Password', 'password')
          : null}
        <div className="field field-button">
          <button type="button" onClick={() => void submit()} disabled={rotate.busy}>
            Rotate secret
          </button>
        </div>
      </div>
      <p role="status">{note}</p>
    </section>
  );
}
