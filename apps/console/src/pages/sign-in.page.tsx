import { useState, type FormEvent } from 'react';
import type { ApiProblem } from '../api/api-problem';
import { HeraldApi } from '../api/herald-api';
import { Field } from '../components/fields';
import { Link } from '../components/link';
import { ProblemAlert } from '../components/problem-alert';
import { useConsole } from '../console-context';
import { useAction, usePageTitle } from '../hooks';
import { pathOf } from '../routes';

/**
 * Signing in checks the key against the API (listing one subscription) and keeps it for this
 * tab only. A key Herald refuses is not kept, and the refusal is shown in Herald's words.
 */
export function SignInPage({ problem }: { problem: ApiProblem | undefined }) {
  const { signIn } = useConsole();
  const [key, setKey] = useState('');
  const [empty, setEmpty] = useState(false);
  const check = useAction();
  usePageTitle('Sign in');

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const trimmed = key.trim();
    setEmpty(trimmed === '');
    if (trimmed === '') return;
    const api = new HeraldApi({ baseUrl: '', key: trimmed });
    const accepted = await check.run(async () => {
      try {
        await api.listSubscriptions();
      } catch (error) {
        // A key without subscriptions:read may still read streams; only a refused key stops here.
        if ((error as ApiProblem).status !== 403) throw error;
      }
      return true;
    });
    if (accepted) signIn(trimmed);
  };

  return (
    <div className="narrow">
      <h1 tabIndex={-1}>Sign in to the Herald console</h1>
      <p>
        Use an API key your Herald administrator gave you. The console keeps it in this browser tab
        only and forgets it when the tab closes.
      </p>
      {check.problem ? null : <ProblemAlert problem={problem} label="You were signed out." />}
      <ProblemAlert problem={check.problem} label="Herald refused the key." />
      <form onSubmit={(event) => void submit(event)} noValidate className="card">
        <Field
          id="api-key"
          label="API key"
          hint="Starts with hk_. Needs the subscriptions:read and subscriptions:write scopes; streams:read for the live tail."
          error={empty ? 'Enter your API key.' : undefined}
        >
          {(describedBy, invalid) => (
            <input
              id="api-key"
              type="password"
              autoComplete="off"
              spellCheck={false}
              value={key}
              onChange={(event) => setKey(event.target.value)}
              aria-describedby={describedBy}
              aria-invalid={invalid}
            />
          )}
        </Field>
        <button type="submit" className="button-primary" disabled={check.busy}>
          {check.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p>
        Just looking? The <Link to={pathOf({ page: 'catalog' })}>event catalog</Link> is open to
        everyone.
      </p>
    </div>
  );
}
