/**
 * What every console page shares: its paths, calls to the operator routes that send the page to
 * the log-in page when the operator's session is missing or has ended, and the header's element
 * that names who is logged in and logs them out. The session is the `mite_operator_session`
 * cookie (HttpOnly: no script reads it), set by `POST /v1/operator-sessions`.
 */
import { html, nothing } from 'lit';
import { type ApiResult, type CallOptions, callApi, describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { showAmount } from '../shared/money.ts';

export const consolePaths = {
  home: '/console/',
  logIn: '/console/login/',
  merchants: '/console/merchants/',
  payouts: '/console/payouts/',
  topUps: '/console/topups/',
  /** Followed by `?topup=<top-up id>`. */
  topUp: '/console/topup/',
  webhooks: '/console/webhooks/',
  riskRules: '/console/risk-rules/',
  accessLog: '/console/access-log/',
  review: '/console/review/',
  /** Followed by `?decision=<decision id>`. */
  decision: '/console/decision/',
  freezes: '/console/freezes/',
} as const;

/** `GET /v1/operator-session`. */
export interface OperatorSession {
  readonly userId: string;
  readonly email: string;
}

/**
 * A ledger amount that may be negative (a saving that was a cost, a balance on its wrong side),
 * shown with its sign before the dollar sign: "−$0.56".
 */
export function showSignedAmount(amount: string): string {
  return amount.startsWith('-') ? `\u2212${showAmount(amount.slice(1))}` : showAmount(amount);
}

/** A list route's answer. */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/**
 * An operator route's answer. A 401 (no session, or one that ended) sends the page to log in;
 * the failure still comes back, for the page to say why while the browser goes.
 */
export async function operatorCall<T>(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: CallOptions = {},
): Promise<ApiResult<T>> {
  const result = await callApi<T>(method, path, { sessionKind: 'operator', ...options });
  if (!result.ok && result.problem.status === 401) window.location.assign(consolePaths.logIn);
  return result;
}

/** A fresh Idempotency-Key for one click's request (a retry of that click reuses it). */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/** The failure as a page shows it: in an alert, read out when it appears. */
export function failureNotice(failure: string | undefined) {
  return failure === undefined
    ? nothing
    : html`<p class="notice error" role="alert">${failure}</p>`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** An ISO time as a person reads it, in the browser's time zone. */
export function when(at: string | null): string {
  return at === null ? '–' : dateFormat.format(new Date(at));
}

/** How long ago an ISO time was: "3 min", "2 h", "4 days". */
export function ageOf(at: string | null, nowMs: number = Date.now()): string {
  if (at === null) return '–';
  const seconds = Math.max(0, Math.round((nowMs - Date.parse(at)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} days`;
}

/** The header's "who is logged in" and Log out button. */
export class OperatorStatus extends MiteElement {
  static override properties = { session: { state: true }, failure: { state: true } };
  declare session: OperatorSession | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const result = await operatorCall<OperatorSession>('GET', '/v1/operator-session');
    if (result.ok) this.session = result.value;
    else if (result.problem.status !== 401) this.failure = describeProblem(result.problem);
  }

  private async logOut(): Promise<void> {
    const result = await callApi('DELETE', '/v1/operator-sessions/current');
    // A session that had ended already is logged out all the same.
    if (!result.ok && result.problem.status !== 401) {
      this.failure = describeProblem(result.problem);
      return;
    }
    window.location.assign(consolePaths.logIn);
  }

  protected override render() {
    return html`<span class="operator-status">
      ${
        this.session === undefined
          ? nothing
          : html`<span data-testid="operator">${this.session.email}</span>`
      }
      <button type="button" class="secondary" @click=${this.logOut}>Log out</button>
      ${this.failure === undefined ? nothing : html`<span role="alert">${this.failure}</span>`}
    </span>`;
  }
}

customElements.define('mite-operator-status', OperatorStatus);

/** Rows per page of the console's lists; "Show more" asks for the next page. */
export const consolePageSize = 25;

/**
 * The list's first page, or its next one appended to what is shown; a failure leaves what is
 * shown and comes back as the sentence to show.
 */
export async function nextPage<T>(
  path: string,
  shown: Page<T> | undefined,
): Promise<{ page: Page<T>; failure?: string }> {
  const cursor = shown?.nextCursor;
  const joiner = path.includes('?') ? '&' : '?';
  const after = cursor == null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
  const result = await operatorCall<Page<T>>(
    'GET',
    `${path}${joiner}limit=${consolePageSize}${after}`,
  );
  if (!result.ok) {
    return {
      page: shown ?? { items: [], nextCursor: null },
      failure: describeProblem(result.problem),
    };
  }
  return {
    page: {
      items: [...(shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    },
  };
}

/** The "Show more" button under a list, when there is more. */
export function moreButton(page: Page<unknown> | undefined, label: string, more: () => void) {
  if (page?.nextCursor == null) return nothing;
  return html`<p><button type="button" class="secondary" @click=${more}>${label}</button></p>`;
}
