import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  type PaymentSessionView,
  type SessionPage,
  type SessionState,
  closeReasonText,
  sessionStates,
  sessionStateText,
  showDateTime,
  showMicroUnits,
  showUnitPrice,
  showUnits,
} from '../shared/payment-sessions.ts';
import { DashboardScreenElement } from './dashboard-screen.ts';
import { leaveOnEndedSession } from './merchant-session.ts';
import './dashboard-shell.ts';

/** Rows per page; "Show older" asks for the next page. */
const pageSize = 20;

const filterNames: Readonly<Record<SessionState, string>> = {
  opening: 'Opening',
  open: 'Open',
  closing: 'Stopping',
  settling: 'Settling',
  settled: 'Settled',
  failed: 'Failed',
};

/**
 * The merchant's payment sessions (streaming and metered payments), newest first, a page at a
 * time, filtered by state: who paid (their pseudonym), for what, at which price, what the
 * merchant accepted in vouchers and what settled. Every role may read it (`sessions:read`).
 */
export class SessionsPage extends DashboardScreenElement {
  static override properties = {
    sessions: { state: true },
    filter: { state: true },
    failure: { state: true },
  };

  declare sessions: SessionPage | undefined;
  /** The state shown, or every state. */
  declare filter: SessionState | '';
  declare failure: string | undefined;

  constructor() {
    super();
    this.filter = '';
  }

  protected override async load(): Promise<void> {
    this.sessions = undefined;
    this.sessions = await this.nextPage(undefined);
  }

  private async nextPage(shown: SessionPage | undefined): Promise<SessionPage> {
    const merchantId = encodeURIComponent(this.session?.merchantId ?? '');
    const query = new URLSearchParams({ limit: String(pageSize) });
    if (this.filter !== '') query.set('state', this.filter);
    if (shown?.nextCursor != null) query.set('cursor', shown.nextCursor);
    const result = await callApi<SessionPage>(
      'GET',
      `/v1/merchants/${merchantId}/payment-sessions?${query.toString()}`,
    );
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = describeProblem(result.problem);
      }
      return shown ?? { items: [], nextCursor: null };
    }
    this.failure = undefined;
    return {
      items: [...(shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
  }

  private async filterBy(event: Event): Promise<void> {
    this.filter = (event.target as HTMLSelectElement).value as SessionState | '';
    await this.load();
  }

  private async more(): Promise<void> {
    this.sessions = await this.nextPage(this.sessions);
  }

  protected override render() {
    return html`<h1>Sessions</h1>
      <p>
        Streams and metered routes paid as they are used. A session holds the payer's deposit; it
        settles for the highest voucher you accepted, and the payment shows under Payments.
      </p>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      <p>
        <label for="session-state">Show</label>
        <select id="session-state" .value=${this.filter} @change=${this.filterBy}>
          <option value="">Every state</option>
          ${sessionStates.map(
            (state) =>
              html`<option value=${state} ?selected=${state === this.filter}>
                ${filterNames[state]}
              </option>`,
          )}
        </select>
      </p>
      ${this.renderSessions()}`;
  }

  private renderSessions() {
    const sessions = this.sessions?.items;
    if (sessions === undefined) return html`<p role="status">Loading your sessions…</p>`;
    if (sessions.length === 0) {
      return html`<p data-testid="no-sessions">
        ${this.filter === '' ? 'No sessions yet.' : 'No sessions in this state.'}
      </p>`;
    }
    return html`<div class="table-scroll">
        <table class="responsive-table" aria-label="Sessions" data-testid="sessions">
          <thead>
            <tr>
              <th scope="col">Opened</th>
              <th scope="col">Payer</th>
              <th scope="col">What</th>
              <th scope="col">Price</th>
              <th scope="col" class="amount">Accepted</th>
              <th scope="col" class="amount">Settled</th>
              <th scope="col">State</th>
              <th scope="col">Closed</th>
            </tr>
          </thead>
          <tbody>
            ${sessions.map((session) => this.renderRow(session))}
          </tbody>
        </table>
      </div>
      ${
        this.sessions?.nextCursor == null
          ? nothing
          : html`<p>
              <button type="button" class="secondary" @click=${this.more}>
                Show older sessions
              </button>
            </p>`
      }`;
  }

  private renderRow(session: PaymentSessionView) {
    return html`<tr data-testid=${`session-${session.id}`}>
      <td data-label="Opened">${showDateTime(session.openedAt)}</td>
      <td data-label="Payer"><code>${session.payer ?? '–'}</code></td>
      <td data-label="What"><code>${session.resource}</code></td>
      <td data-label="Price">${showUnitPrice(session)}</td>
      <td data-label="Accepted" class="amount" data-testid="session-accepted">
        ${showMicroUnits(session.acceptedCumulative)}
        <span class="hint">${showUnits(session)}</span>
      </td>
      <td data-label="Settled" class="amount" data-testid="session-settled">
        ${session.settledAmount === null ? '–' : showMicroUnits(session.settledAmount)}
      </td>
      <td data-label="State" data-testid="session-state">${sessionStateText(session)}</td>
      <td data-label="Closed">
        ${session.closedAt === null ? '–' : showDateTime(session.closedAt)}
        ${session.closeReason === null ? nothing : html`<span class="hint">${closeReasonText(session)}</span>`}
      </td>
    </tr>`;
  }
}

customElements.define('mite-dashboard-sessions', SessionsPage);
