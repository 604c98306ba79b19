import { callApi, describeProblem } from '../shared/api.ts';

/**
 * After a log-in: whether the browser kept the dashboard's session cookie, or why not. The
 * cookie is Secure, which browsers keep only from https origins and from the loopback: a platform
 * on plain http elsewhere would otherwise send people round in circles through the log-in page.
 */
export async function sessionKeptProblem(): Promise<string | undefined> {
  const check = await callApi('GET', '/v1/merchant-session');
  if (check.ok) return undefined;
  if (check.problem.status === 401) {
    return (
      'You are logged in, but this browser did not keep the session: the platform must be ' +
      'served over https (or opened on localhost).'
    );
  }
  return describeProblem(check.problem);
}
