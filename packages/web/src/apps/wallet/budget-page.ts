import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { formatMicros, microsOf, showAmount } from '../shared/money.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import './session.ts';
import '../shared/styles.css';

type BudgetField = 'maxPerPayment' | 'maxPerOriginPerDay' | 'maxTotal' | 'approveAbove';

/** `GET` and `PUT /v1/wallet/budget`. */
interface StoredBudget {
  readonly maxPerPayment: string;
  readonly maxPerOriginPerDay: string;
  readonly maxTotal: string;
  readonly approveAbove: string;
  readonly updatedAt: string | null;
  readonly maximums: Readonly<Record<Exclude<BudgetField, 'approveAbove'>, string>>;
}

const labels: Readonly<Record<BudgetField, string>> = {
  maxPerPayment: 'Most for one payment (USD)',
  maxPerOriginPerDay: 'Most for one site in a day (USD)',
  maxTotal: 'Most in total (USD)',
  approveAbove: 'Ask me before paying more than (USD)',
};

const hints: Readonly<Record<BudgetField, string>> = {
  maxPerPayment: 'A payment above this is refused.',
  maxPerOriginPerDay: 'What one site may take from 00:00 to 24:00 UTC.',
  maxTotal: 'What may be paid altogether, counted from when you save this budget.',
  approveAbove:
    'Payments up to this go ahead with one click, or none on a site you let Mite pay ' +
    'automatically (see Consents); 0 asks about every payment.',
};

const fields = Object.keys(labels) as BudgetField[];

type Outcome = { readonly kind: 'saved' } | { readonly kind: 'failed'; readonly message: string };

/** The budgets the paywall enforces for this user: shown, checked here, saved on the platform. */
export class BudgetPage extends MiteElement {
  static override properties = {
    budget: { state: true },
    failure: { state: true },
    errors: { state: true },
    outcome: { state: true },
    busy: { state: true },
  };

  declare budget: StoredBudget | undefined;
  declare failure: string | undefined;
  declare errors: FieldErrors<BudgetField>;
  declare outcome: Outcome | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const result = await callApi<StoredBudget>('GET', '/v1/wallet/budget');
    if (result.ok) this.budget = result.value;
    else if (result.problem.status === 401) window.location.assign(walletPaths.logIn);
    else this.failure = describeProblem(result.problem);
  }

  /** The budget to send, or undefined with each field's error shown. */
  private check(form: HTMLFormElement, budget: StoredBudget) {
    const errors: FieldErrors<BudgetField> = {};
    const micros: Partial<Record<BudgetField, bigint>> = {};
    for (const name of fields) {
      const value = microsOf(inputValue(form, name));
      const maximum = name === 'approveAbove' ? undefined : microsOf(budget.maximums[name]);
      if (value === undefined) {
        errors[name] = 'Enter an amount in dollars, like 0.50, with no sign.';
      } else if (maximum !== undefined && value > maximum) {
        errors[name] = `At most ${formatMicros(maximum)}.`;
      } else micros[name] = value;
    }
    const { approveAbove, maxPerPayment } = micros;
    if (approveAbove !== undefined && maxPerPayment !== undefined && approveAbove > maxPerPayment) {
      errors.approveAbove =
        'Make this no more than the most for one payment: no payment above that is made at all.';
    }
    this.errors = errors;
    if (Object.keys(errors).length > 0) return undefined;
    return Object.fromEntries(
      fields.map((name) => [name, formatMicros(micros[name] ?? 0n)]),
    ) as Record<BudgetField, string>;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const budget = this.budget;
    if (budget === undefined) return;
    this.outcome = undefined;
    const body = this.check(form, budget);
    if (body === undefined) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.busy = true;
    const result = await callApi<StoredBudget>('PUT', '/v1/wallet/budget', { body });
    this.busy = false;
    if (result.ok) {
      this.budget = result.value;
      this.outcome = { kind: 'saved' };
    } else this.outcome = { kind: 'failed', message: describeProblem(result.problem) };
  }

  protected override render() {
    return html`<h1>Your budget</h1>
      <p>
        These limits keep small payments small. The Mite paywall on any site pays within them with
        one click, asks you above the amount you choose, and refuses what would go past a limit.
      </p>
      ${
        this.failure === undefined
          ? nothing
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      ${this.renderOutcome()} ${this.renderForm()}
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderOutcome() {
    const outcome = this.outcome;
    if (outcome === undefined) return nothing;
    if (outcome.kind === 'saved') {
      return html`<p class="notice success" role="status" data-testid="outcome">
        Saved: the paywall uses this budget from your next payment on.
      </p>`;
    }
    return html`<p class="notice error" role="alert" data-testid="outcome">
      Not saved. ${outcome.message}
    </p>`;
  }

  private renderForm() {
    const budget = this.budget;
    if (budget === undefined) {
      return this.failure === undefined ? html`<p role="status">Loading…</p>` : nothing;
    }
    return html`<p class="hint" data-testid="budget-state">
        ${
          budget.updatedAt === null
            ? 'You have not set a budget yet: these are the defaults.'
            : `Saved ${new Date(budget.updatedAt).toLocaleString()}.`
        }
      </p>
      <form novalidate @submit=${this.submit} aria-label="Budget">
        ${fields.map((name) =>
          field({
            id: name,
            label: labels[name],
            inputmode: 'decimal',
            hint:
              name === 'approveAbove'
                ? hints[name]
                : `${hints[name]} Up to ${showAmount(budget.maximums[name])}.`,
            error: this.errors[name],
            value: budget[name],
          }),
        )}
        <div><button type="submit" ?disabled=${this.busy}>Save budget</button></div>
      </form>`;
  }
}

customElements.define('mite-budget-page', BudgetPage);
