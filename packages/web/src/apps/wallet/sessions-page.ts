import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import {
  type PaymentSessionView,
  type SessionPage,
  closeReasonText,
  sessionLive,
  sessionStateText,
  showDateTime,
  showMicroUnits,
  showUnitPrice,
} from '../shared/payment-sessions.ts';
import './session.ts';
import '../shared/styles.css';

/** How often the page reads the sessions again while one is live, so the running cost moves. */
const refreshMs = 3_000;

/** How many of the newest sessions the page shows. */
const sessionsShown = 50;

/**
 * The user's payment sessions (`/wallet/sessions/`): what streams or metered services they pay
 * for as they use them, newest first. A live session shows its running cost (the highest voucher
 * the merchant handed in) and the deposit held; a settled one what it paid. An open session has
 * a Stop button, the payer's close: the session stops at once and settles after a short grace.
 */
export class SessionsPage extends MiteElement {
  static override properties = {
    sessions: { state: true },
    failure: { state: true },
    stopping: { state: true },
  };

  declare sessions: readonly PaymentSessionView[] | undefined;
  declare failure: string | undefined;
  /** The session whose Stop was pressed and not yet answered. */
  declare stopping: string | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
  }

  private async load(): Promise<void> {
    clearTimeout(this.refreshTimer);
    const result = await callApi<SessionPage>(
      'GET',
      `/v1/users/me/payment-sessions?limit=${sessionsShown}`,
    );
    if (!result.ok) {
      if (result.problem.status === 401) {
        window.location.assign(walletPaths.logIn);
        return;
      }
      this.failure = describeProblem(result.problem);
    } else {
      this.failure = undefined;
      this.sessions = result.value.items;
    }
    // Read again while something can still move (and after a failure, which may pass).
    if (this.isConnected && (!result.ok || result.value.items.some(sessionLive))) {
      this.refreshTimer = setTimeout(() => void this.load(), refreshMs);
    }
  }

  /** The payer's close: the answer is the session, closing, shown at once. */
  private async stop(session: PaymentSessionView): Promise<void> {
    this.stopping = session.id;
    const result = await callApi<{ session: PaymentSessionView }>(
      'POST',
      `/v1/payment-sessions/${encodeURIComponent(session.id)}/close`,
      { body: {} },
    );
    this.stopping = undefined;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    const closed = result.value.session;
    this.sessions = (this.sessions ?? []).map((shown) => (shown.id === closed.id ? closed : shown));
    await this.load();
  }

  protected override render() {
    return html`<h1>Your sessions</h1>
      <p>
        Streams and metered services you pay for as you use them. While a session runs, its deposit
        is held in your wallet and you pay only for what you used; the rest comes back when it
        stops.
      </p>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      ${this.renderSessions()}
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderSessions() {
    const sessions = this.sessions;
    if (sessions === undefined) return html`<p role="status">Loading your sessions…</p>`;
    if (sessions.length === 0) {
      return html`<p class="panel" data-testid="no-sessions">
        No sessions yet. When you listen, watch or use a service that charges as you go, it shows
        here with what it costs so far, and you can stop it from here.
      </p>`;
    }
    return html`<div class="table-scroll">
      <table class="responsive-table" data-testid="sessions" aria-label="Your sessions">
        <thead>
          <tr>
            <th scope="col">Merchant</th>
            <th scope="col">What</th>
            <th scope="col">Price</th>
            <th scope="col" class="amount">Cost</th>
            <th scope="col" class="amount">Deposit</th>
            <th scope="col">State</th>
            <th scope="col"><span class="visually-hidden">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          ${sessions.map((session) => this.renderRow(session))}
        </tbody>
      </table>
    </div>`;
  }

  private renderRow(session: PaymentSessionView) {
    const settled = session.state === 'settled';
    return html`<tr data-testid=${`session-${session.id}`}>
      <td data-label="Merchant">${session.merchantName ?? session.merchantId}</td>
      <td data-label="What">
        <span
          ><code>${session.resource}</code>
          <span class="hint">since ${showDateTime(session.openedAt)}</span></span
        >
      </td>
      <td data-label="Price">${showUnitPrice(session)}</td>
      <td data-label="Cost" class="amount" data-testid="session-cost">
        ${
          settled
            ? html`Paid ${showMicroUnits(session.settledAmount ?? '0')}`
            : html`${showMicroUnits(session.acceptedCumulative)} so far`
        }
      </td>
      <td data-label="Deposit" class="amount">
        <span
          >${showMicroUnits(session.deposit)}${sessionLive(session) ? html` <span class="hint">held</span>` : nothing}</span
        >
      </td>
      <td data-label="State" data-testid="session-state">
        ${sessionStateText(session)}
        ${
          session.closeReason === null || !settled
            ? nothing
            : html`<span class="hint">(${closeReasonText(session)})</span>`
        }
      </td>
      <td data-label="Actions">${this.stopButton(session)}</td>
    </tr>`;
  }

  private stopButton(session: PaymentSessionView) {
    if (session.state !== 'open') return nothing;
    return html`<button
      type="button"
      class="secondary"
      ?disabled=${this.stopping === session.id}
      @click=${() => this.stop(session)}
    >
      Stop<span class="visually-hidden"> ${session.resource}</span>
    </button>`;
  }
}

customElements.define('mite-sessions-page', SessionsPage);
