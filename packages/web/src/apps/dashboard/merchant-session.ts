import { callApi, describeProblem } from '../shared/api.ts';
import { dashboardPaths } from './dashboard-paths.ts';

/** A merchant a person belongs to, and in which role. */
export interface Membership {
  readonly merchantId: string;
  readonly name: string;
  readonly role: MerchantRole;
}

export type MerchantRole = 'owner' | 'viewer';

/** `GET /v1/merchant-session`: who is logged in, for which merchant, with which scopes. */
export interface MerchantSession {
  readonly userId: string;
  readonly email: string;
  readonly merchantId: string;
  readonly merchantName: string;
  readonly role: MerchantRole;
  readonly scopes: readonly string[];
  readonly merchants: readonly Membership[];
}

/** The words a person reads for a role. */
export const roleNames: Readonly<Record<MerchantRole, string>> = {
  owner: 'Owner',
  viewer: 'Viewer',
};

let loading: Promise<MerchantSession | string> | undefined;

/**
 * The dashboard's session, read once per page and shared by the shell and its screen; a trip to
 * the log-in page when there is none (or it has ended). Other failures come back as the sentence
 * to show.
 */
export function merchantSession(): Promise<MerchantSession | string> {
  loading ??= readSession();
  return loading;
}

async function readSession(): Promise<MerchantSession | string> {
  const result = await callApi<MerchantSession>('GET', '/v1/merchant-session');
  if (result.ok) return result.value;
  if (result.problem.status === 401) {
    window.location.assign(dashboardPaths.logIn);
    return 'Your session has ended: log in again.';
  }
  return describeProblem(result.problem);
}

/** Whether the session may do what needs `scope` (a viewer holds the `:read` scopes only). */
export function holdsScope(session: MerchantSession, scope: string): boolean {
  return session.scopes.includes(scope);
}

/**
 * Sends the browser to log in when a call answered 401 (the session ended while the page was
 * open); whether it did.
 */
export function leaveOnEndedSession(status: number): boolean {
  if (status !== 401) return false;
  window.location.assign(dashboardPaths.logIn);
  return true;
}
