import { html } from 'lit';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  consolePaths,
  failureNotice,
  moreButton,
  nextPage,
  type Page,
  when,
} from './console-session.ts';
import { type PolicyDecision, subjectNames } from './review-types.ts';
import '../shared/styles.css';
import './console.css';

/** The filters the list route takes, as the form's fields name them. */
const filterNames = ['reviewState', 'verdict', 'rule', 'userId', 'merchantId'] as const;
const timeFilterNames = ['from', 'to'] as const;

/** A `datetime-local` value (the browser's time zone) as ISO 8601, or undefined if empty. */
function isoOf(local: string): string | undefined {
  if (local === '') return undefined;
  const ms = new Date(local).getTime();
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function decisionLink(decision: PolicyDecision) {
  const href = `${consolePaths.decision}?decision=${encodeURIComponent(decision.decisionId)}`;
  return html`<a href=${href}
    ><code>${decision.decisionId}</code><span class="visually-hidden"> details</span></a
  >`;
}

/**
 * The review queue: what the policy stopped, newest first, the open ones unless the operator
 * asks for others, filtered by verdict, rule, user, merchant and time.
 */
export class ReviewPage extends MiteElement {
  static override properties = { decisions: { state: true }, failure: { state: true } };
  declare decisions: Page<PolicyDecision> | undefined;
  declare failure: string | undefined;
  private query = new URLSearchParams({ reviewState: 'open' });

  override connectedCallback(): void {
    super.connectedCallback();
    void this.more();
  }

  private async more(): Promise<void> {
    const path = `/v1/operator/policy-decisions?${this.query.toString()}`;
    const { page, failure } = await nextPage<PolicyDecision>(path, this.decisions);
    this.decisions = page;
    this.failure = failure;
  }

  private filter(event: SubmitEvent): void {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const query = new URLSearchParams();
    for (const name of filterNames) {
      const value = String(data.get(name) ?? '').trim();
      if (value !== '') query.set(name, value);
    }
    for (const name of timeFilterNames) {
      const value = isoOf(String(data.get(name) ?? ''));
      if (value !== undefined) query.set(name, value);
    }
    this.query = query;
    this.decisions = undefined;
    void this.more();
  }

  protected override render() {
    return html`<h1>Review</h1>
      <p>
        What the platform's policy stopped. Release a decision that was not fraud, or confirm fraud
        to freeze the accounts involved; see the
        <a href=${consolePaths.freezes}>frozen accounts</a>.
      </p>
      ${this.renderFilters()} ${failureNotice(this.failure)} ${this.renderList()}`;
  }

  private renderFilters() {
    const text = (id: string, label: string) =>
      html`<div class="field">
        <label for=${id}>${label}</label><input id=${id} name=${id} autocomplete="off" />
      </div>`;
    return html`<form @submit=${this.filter} aria-label="Filter the decisions">
      <div class="field-row">
        <div class="field">
          <label for="reviewState">Review</label>
          <select id="reviewState" name="reviewState">
            <option value="open" selected>Open</option>
            <option value="released">Released</option>
            <option value="fraud">Fraud</option>
            <option value="">Any</option>
          </select>
        </div>
        <div class="field">
          <label for="verdict">Verdict</label>
          <select id="verdict" name="verdict">
            <option value="">Any</option>
            <option value="block">Block</option>
            <option value="challenge">Challenge</option>
          </select>
        </div>
        ${text('rule', 'Rule')}
      </div>
      <div class="field-row">${text('userId', 'User id')} ${text('merchantId', 'Merchant id')}</div>
      <div class="field-row times">
        <div class="field">
          <label for="from">From</label><input id="from" name="from" type="datetime-local" />
        </div>
        <div class="field">
          <label for="to">Until</label><input id="to" name="to" type="datetime-local" />
        </div>
      </div>
      <div><button type="submit">Show</button></div>
    </form>`;
  }

  private renderList() {
    const decisions = this.decisions?.items;
    if (decisions === undefined) return html`<p role="status">Loading…</p>`;
    if (decisions.length === 0) return html`<p role="status">No decision matches.</p>`;
    return html`<div class="table-scroll">
        <table class="responsive-table" aria-label="Decisions" data-testid="decisions">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Decision</th>
              <th scope="col">What</th>
              <th scope="col">Verdict</th>
              <th scope="col">Rule</th>
              <th scope="col" class="amount">Amount</th>
              <th scope="col">Review</th>
            </tr>
          </thead>
          <tbody>
            ${decisions.map(
              (decision) =>
                html`<tr>
                  <td data-label="When">${when(decision.createdAt)}</td>
                  <td data-label="Decision">${decisionLink(decision)}</td>
                  <td data-label="What">${subjectNames[decision.subject]}</td>
                  <td data-label="Verdict">${decision.verdict}</td>
                  <td data-label="Rule"><code>${decision.rule}</code></td>
                  <td data-label="Amount" class="amount">${showAmount(decision.amount)}</td>
                  <td data-label="Review">${decision.reviewState}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${moreButton(this.decisions, 'Show older decisions', () => void this.more())}`;
  }
}

customElements.define('mite-review-page', ReviewPage);
