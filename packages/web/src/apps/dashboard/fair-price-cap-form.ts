import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, inputValue } from '../shared/forms.ts';
import { formatMicros, microsOf, showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { leaveOnEndedSession } from './merchant-session.ts';

/** The largest cap the platform takes, in micro-units (server: fairPriceCapMicrosMax). */
const capMicrosMax = 1_000_000_000_000n;

/**
 * The merchant's fair-price cap, on the offers page: the most a user pays it in a month, after
 * which its items are free to that user for the rest of the month. Empty removes the cap.
 */
export class FairPriceCapForm extends MiteElement {
  static override properties = {
    merchantId: { type: String, attribute: 'merchant-id' },
    cap: { state: true },
    error: { state: true },
    outcome: { state: true },
    busy: { state: true },
  };

  declare merchantId: string;
  /** The cap in force ("5.00"), null for none, undefined until read. */
  declare cap: string | null | undefined;
  declare error: string | undefined;
  declare outcome: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.merchantId = '';
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private path(): string {
    return `/v1/merchants/${encodeURIComponent(this.merchantId)}/fair-price-cap`;
  }

  private async load(): Promise<void> {
    const result = await callApi<{ monthlyCap: string | null }>('GET', this.path());
    if (result.ok) this.cap = result.value.monthlyCap;
    else if (!leaveOnEndedSession(result.problem.status)) {
      this.outcome = describeProblem(result.problem);
    }
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const typed = inputValue(form, 'fair-price-cap').trim();
    const micros = typed === '' ? undefined : microsOf(typed);
    this.error =
      typed !== '' && (micros === undefined || micros <= 0n || micros > capMicrosMax)
        ? 'Enter an amount in dollars above 0, like 5.00; or leave it empty for no cap.'
        : undefined;
    this.outcome = undefined;
    if (this.error !== undefined) return;
    const monthlyCap = micros === undefined ? null : formatMicros(micros);
    this.busy = true;
    const result = await callApi<{ monthlyCap: string | null }>('PUT', this.path(), {
      body: { monthlyCap },
    });
    this.busy = false;
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.outcome = `The cap was not saved. ${describeProblem(result.problem)}`;
      }
      return;
    }
    this.cap = result.value.monthlyCap;
    this.outcome =
      this.cap === null
        ? 'Saved: no fair-price cap.'
        : `Saved: users pay you at most ${showAmount(this.cap)} a month.`;
    form.reset();
  }

  protected override render() {
    if (this.cap === undefined && this.outcome === undefined) return nothing;
    const current =
      this.cap == null
        ? 'You have no fair-price cap: every item is charged its price.'
        : `Users pay you at most ${showAmount(this.cap)} a month; after that, your items are free to them until the month ends.`;
    return html`<section aria-labelledby="fair-price-heading" data-testid="fair-price-cap">
      <h2 id="fair-price-heading">Fair-price cap</h2>
      <p>
        Promise your readers “never more than a subscription”: once a user’s spending with you
        reaches your monthly cap, the item that crosses it costs what is left, and the rest of the
        month is free. The payment window tells them so.
      </p>
      <p data-testid="fair-price-current">${current}</p>
      <form novalidate @submit=${this.submit} aria-label="Fair-price cap">
        ${field({
          id: 'fair-price-cap',
          label: 'Monthly cap per user (USD)',
          inputmode: 'decimal',
          hint: 'Empty removes the cap. Payments use a change within a minute.',
          ...(this.error === undefined ? {} : { error: this.error }),
        })}
        <div><button type="submit" ?disabled=${this.busy}>Save cap</button></div>
      </form>
      ${this.outcome === undefined ? nothing : html`<p role="status">${this.outcome}</p>`}
    </section>`;
  }
}

customElements.define('mite-fair-price-cap', FairPriceCapForm);
