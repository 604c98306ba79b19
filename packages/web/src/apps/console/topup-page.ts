import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { consolePaths, failureNotice, operatorCall, when } from './console-session.ts';
import type { TopUp } from './topups-page.ts';
import '../shared/styles.css';
import './console.css';

/** The reasons the platform takes for a view of personal data (personal-data-views.ts). */
const reasonLengthMin = 10;
const reasonLengthMax = 500;

/**
 * One top-up (`?topup=ID`), without its user; the user's email is shown only when the operator
 * gives a reason, and the platform logs that view (who, which top-up, which field, when, why)
 * before it answers.
 */
export class TopUpPage extends MiteElement {
  static override properties = {
    topUp: { state: true },
    failure: { state: true },
    reasonError: { state: true },
    email: { state: true },
    busy: { state: true },
  };

  declare topUp: TopUp | undefined;
  declare failure: string | undefined;
  declare reasonError: string | undefined;
  declare email: string | undefined;
  declare busy: boolean;
  private readonly topUpId = new URLSearchParams(window.location.search).get('topup') ?? '';

  constructor() {
    super();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    if (this.topUpId === '') {
      this.failure = 'No top-up was named: open one from the list of top-ups.';
      return;
    }
    const path = `/v1/operator/topups/${encodeURIComponent(this.topUpId)}`;
    const result = await operatorCall<TopUp>('GET', path);
    if (result.ok) this.topUp = result.value;
    else this.failure = describeProblem(result.problem);
  }

  private async reveal(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const area = form.elements.namedItem('reason');
    const reason = area instanceof HTMLTextAreaElement ? area.value.trim() : '';
    this.reasonError =
      reason.length < reasonLengthMin || reason.length > reasonLengthMax
        ? `Say why you need it, in ${reasonLengthMin} to ${reasonLengthMax} characters: ` +
          'it is kept in the access log.'
        : undefined;
    if (this.reasonError !== undefined) {
      await this.updateComplete;
      form.querySelector<HTMLTextAreaElement>('#reason')?.focus();
      return;
    }
    this.busy = true;
    this.failure = undefined;
    const result = await operatorCall<{ value: string }>(
      'POST',
      '/v1/operator/personal-data-views',
      { body: { recordKind: 'topUp', recordId: this.topUpId, field: 'email', reason } },
    );
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    this.email = result.value.value;
  }

  protected override render() {
    const topUp = this.topUp;
    return html`<h1>Top-up</h1>
      <p><a href=${consolePaths.topUps}>All top-ups</a></p>
      ${failureNotice(this.failure)}
      ${
        topUp === undefined
          ? nothing
          : html`<dl class="claims" data-testid="topup">
                <dt>Top-up</dt>
                <dd><code>${topUp.topUpId}</code></dd>
                <dt>State</dt>
                <dd>
                  ${topUp.state}${topUp.failureCode === null ? '' : ` (${topUp.failureCode})`}
                </dd>
                <dt>Amount</dt>
                <dd>${showAmount(topUp.amount)}</dd>
                <dt>Card fee</dt>
                <dd data-testid="card-fee">
                  ${topUp.cardFee === null ? 'not known yet' : showAmount(topUp.cardFee)}
                </dd>
                <dt>Processor</dt>
                <dd>${topUp.provider}${topUp.sandbox ? ' (sandbox: no real money)' : ''}</dd>
                <dt>Card</dt>
                <dd>
                  ${
                    topUp.userErased
                      ? 'erased'
                      : topUp.cardLast4 === null
                        ? '–'
                        : `•••• ${topUp.cardLast4}`
                  }
                </dd>
                <dt>Made</dt>
                <dd>${when(topUp.createdAt)}</dd>
                <dt>Completed</dt>
                <dd>${when(topUp.completedAt)}</dd>
              </dl>
              ${this.renderReveal()}`
      }`;
  }

  private renderReveal() {
    if (this.topUp?.userErased === true) {
      return html`<h2>The user</h2>
        <p role="status" data-testid="user-erased">
          Erased: the user deleted their account, and their personal data with it.
        </p>`;
    }
    if (this.email !== undefined) {
      return html`<h2>The user</h2>
        <p role="status">
          Email: <strong data-testid="email">${this.email}</strong>. This view is in the
          <a href=${consolePaths.accessLog}>access log</a>.
        </p>`;
    }
    const hintId = 'reason-hint';
    const errorId = 'reason-error';
    const describedBy = this.reasonError === undefined ? hintId : `${hintId} ${errorId}`;
    return html`<h2>The user</h2>
      <form novalidate @submit=${this.reveal} aria-label="Show the user's email">
        <div class="field">
          <label for="reason">Why you need the user's email</label>
          <p class="hint" id=${hintId}>
            For a dispute or a support request, say which. Your name, this top-up, the field and
            your reason are kept in the access log.
          </p>
          <textarea
            id="reason"
            name="reason"
            maxlength=${reasonLengthMax}
            aria-invalid=${this.reasonError === undefined ? 'false' : 'true'}
            aria-describedby=${describedBy}
          ></textarea>
          ${
            this.reasonError === undefined
              ? nothing
              : html`<p class="field-error" id=${errorId}>${this.reasonError}</p>`
          }
        </div>
        <div><button type="submit" ?disabled=${this.busy}>Show the email</button></div>
      </form>`;
  }
}

customElements.define('mite-topup-page', TopUpPage);
