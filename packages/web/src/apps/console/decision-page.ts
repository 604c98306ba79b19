import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  consolePaths,
  failureNotice,
  newIdempotencyKey,
  operatorCall,
  when,
} from './console-session.ts';
import {
  type AccountFreeze,
  type PolicyDecision,
  reviewNoteLengthMax,
  subjectNames,
} from './review-types.ts';
import '../shared/styles.css';
import './console.css';

type Action = 'release' | 'fraud';

/** What one click sends; sent again unchanged after no answer, with the same key. */
interface Attempt {
  readonly action: Action;
  readonly body: string;
  readonly key: string;
}

/**
 * One decision of the policy (`?decision=ID`): the rule, its reason, the amount and who asked;
 * while open, a note and either "Release" (not fraud; the refusal stands and nothing moves) or
 * "Confirm fraud", freezing the accounts checked.
 */
export class DecisionPage extends MiteElement {
  static override properties = {
    decision: { state: true },
    freezes: { state: true },
    failure: { state: true },
    noteError: { state: true },
    freezeError: { state: true },
    busy: { state: true },
  };

  declare decision: PolicyDecision | undefined;
  declare freezes: AccountFreeze[] | undefined;
  declare failure: string | undefined;
  declare noteError: string | undefined;
  declare freezeError: string | undefined;
  declare busy: boolean;
  private readonly decisionId = new URLSearchParams(window.location.search).get('decision') ?? '';
  private attempt: Attempt | undefined;

  constructor() {
    super();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private get path(): string {
    return `/v1/operator/policy-decisions/${encodeURIComponent(this.decisionId)}`;
  }

  private async load(): Promise<void> {
    if (this.decisionId === '') {
      this.failure = 'No decision was named: open one from the review list.';
      return;
    }
    const result = await operatorCall<PolicyDecision>('GET', this.path);
    if (result.ok) this.decision = result.value;
    else this.failure = describeProblem(result.problem);
  }

  /** The form's request for `action`, or undefined after marking what is wrong. */
  private requestOf(form: HTMLFormElement, action: Action): unknown {
    const data = new FormData(form);
    const note = String(data.get('note') ?? '').trim();
    this.noteError =
      note === '' || note.length > reviewNoteLengthMax
        ? `Write a note of 1 to ${reviewNoteLengthMax} characters: it is kept with the decision.`
        : undefined;
    const freeze = {
      user: data.get('freezeUser') !== null,
      merchant: data.get('freezeMerchant') !== null,
    };
    this.freezeError =
      action === 'fraud' && !freeze.user && !freeze.merchant
        ? 'Check at least one account to freeze.'
        : undefined;
    if (this.noteError !== undefined || this.freezeError !== undefined) return undefined;
    return action === 'release' ? { note } : { note, freeze };
  }

  /** A box checked answers "check at least one account": the error goes as soon as it is. */
  private freezeChanged(event: Event): void {
    if ((event.target as HTMLInputElement | null)?.checked === true) this.freezeError = undefined;
  }

  private async review(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const submitter = event.submitter as HTMLButtonElement | null;
    const action: Action = submitter?.value === 'fraud' ? 'fraud' : 'release';
    const request = this.requestOf(form, action);
    if (request === undefined) {
      await this.updateComplete;
      form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    const body = JSON.stringify(request);
    const same = this.attempt?.action === action && this.attempt.body === body;
    const attempt =
      same && this.attempt !== undefined
        ? this.attempt
        : { action, body, key: newIdempotencyKey() };
    this.attempt = attempt;
    this.busy = true;
    this.failure = undefined;
    const result = await operatorCall<
      PolicyDecision | { decision: PolicyDecision; freezes: AccountFreeze[] }
    >('POST', `${this.path}/${action}`, { body: request, idempotencyKey: attempt.key });
    this.busy = false;
    if (!result.ok) {
      // No answer: the same click may be sent again with its key; any answer ends the attempt.
      if (result.problem.status !== 0) this.attempt = undefined;
      this.failure = describeProblem(result.problem);
      return;
    }
    this.attempt = undefined;
    const value = result.value;
    if ('decision' in value) {
      this.decision = value.decision;
      this.freezes = value.freezes;
    } else {
      this.decision = value;
    }
  }

  protected override render() {
    const decision = this.decision;
    return html`<h1>Decision</h1>
      <p><a href=${consolePaths.review}>Review list</a></p>
      ${failureNotice(this.failure)}
      ${decision === undefined ? nothing : html`${this.renderDecision(decision)} ${this.renderReview(decision)}`}`;
  }

  private renderDecision(decision: PolicyDecision) {
    return html`<dl class="claims" data-testid="decision">
      <dt>Decision</dt>
      <dd><code>${decision.decisionId}</code></dd>
      <dt>What</dt>
      <dd>${subjectNames[decision.subject]} of ${showAmount(decision.amount)}</dd>
      <dt>Verdict</dt>
      <dd>${decision.verdict}</dd>
      <dt>Rule</dt>
      <dd><code>${decision.rule}</code></dd>
      <dt>Reason</dt>
      <dd data-testid="reason">${decision.reason}</dd>
      <dt>User</dt>
      <dd><code>${decision.userId}</code></dd>
      <dt>Merchant</dt>
      <dd>${decision.merchantId === null ? '–' : html`<code>${decision.merchantId}</code>`}</dd>
      <dt>When</dt>
      <dd>${when(decision.createdAt)}</dd>
      <dt>Review</dt>
      <dd data-testid="review-state">${decision.reviewState}</dd>
      ${
        decision.reviewState === 'open'
          ? nothing
          : html`<dt>Reviewed</dt>
              <dd>${when(decision.reviewedAt)} by <code>${decision.reviewedBy}</code></dd>
              <dt>Note</dt>
              <dd>${decision.reviewNote}</dd>`
      }
    </dl>`;
  }

  private renderReview(decision: PolicyDecision) {
    if (decision.reviewState !== 'open') {
      if (this.freezes === undefined || this.freezes.length === 0) return nothing;
      return html`<p role="status" data-testid="frozen">
        Frozen:
        ${this.freezes.map((freeze) => `${freeze.account.kind} ${freeze.account.id}`).join(', ')}.
        See the <a href=${consolePaths.freezes}>frozen accounts</a>.
      </p>`;
    }
    const noteDescribed = this.noteError === undefined ? 'note-hint' : 'note-hint note-error';
    return html`<h2>Review it</h2>
      <form novalidate @submit=${this.review} aria-label="Review the decision">
        <div class="field">
          <label for="note">Note</label>
          <p class="hint" id="note-hint">Why: kept with the decision for the next operator.</p>
          <textarea
            id="note"
            name="note"
            maxlength=${reviewNoteLengthMax}
            aria-invalid=${this.noteError === undefined ? 'false' : 'true'}
            aria-describedby=${noteDescribed}
          ></textarea>
          ${this.noteError === undefined ? nothing : html`<p class="field-error" id="note-error">${this.noteError}</p>`}
        </div>
        <fieldset
          aria-describedby=${this.freezeError === undefined ? nothing : 'freeze-error'}
          @change=${this.freezeChanged}
        >
          <legend>If it is fraud, freeze</legend>
          <div class="choices">
            <label><input type="checkbox" name="freezeUser" /> The user</label>
            ${
              decision.merchantId === null
                ? nothing
                : html`<label
                    ><input type="checkbox" name="freezeMerchant" /> The merchant paid</label
                  >`
            }
          </div>
          ${this.freezeError === undefined ? nothing : html`<p class="field-error" id="freeze-error">${this.freezeError}</p>`}
        </fieldset>
        <div class="actions">
          <button type="submit" value="release" class="secondary" ?disabled=${this.busy}>
            Release
          </button>
          <button type="submit" value="fraud" ?disabled=${this.busy}>Confirm fraud</button>
        </div>
      </form>`;
  }
}

customElements.define('mite-decision-page', DecisionPage);
