import { callApi, describeProblem } from './api.ts';

/**
 * After a log-in: whether the browser kept the app's session cookie, or why not, asked of a
 * route that only that session opens (`/v1/wallet`, `/v1/merchant-session`,
 * `/v1/operator-session`). The cookie is Secure, which browsers keep only from https origins and
 * from the loopback (localhost, 127.0.0.1): a platform on plain http elsewhere would otherwise
 * send people round in circles between the app and its log-in page.
 */
export async function sessionKeptProblem(probePath: string): Promise<string | undefined> {
  const check = await callApi('GET', probePath);
  if (check.ok) return undefined;
  if (check.problem.status === 401) {
    return (
      'You are logged in, but this browser did not keep the session: the platform must be ' +
      'served over https (or opened on localhost).'
    );
  }
  return describeProblem(check.problem);
}
