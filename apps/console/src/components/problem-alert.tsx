import type { ApiProblem } from '../api/api-problem';

/**
 * What went wrong, in Herald's words: the problem's title and detail, and each field it names.
 * role="alert" makes screen readers say it as soon as it appears.
 */
export function ProblemAlert({
  problem,
  label,
}: {
  problem: ApiProblem | undefined;
  label?: string;
}) {
  if (problem === undefined) return null;
  return (
    <div role="alert" className="alert alert-error">
      <p>
        {label ? <span className="alert-label">{label} </span> : null}
        <strong>{problem.title}</strong>
        {problem.status === null ? null : <span className="muted"> (HTTP {problem.status})</span>}
        {problem.detail ? `: ${problem.detail}` : null}
      </p>
      {problem.errors.length > 0 ? (
        <ul>
          {problem.errors.map((error, index) => (
            <li key={index}>
              {error.pointer ? <code>{error.pointer}</code> : null} {error.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
