import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { microsOf, showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';

/** `GET /v1/users/me/spending`. */
interface Spending {
  readonly month: string;
  readonly timeZone: string;
  readonly scopes: readonly {
    readonly scope: string;
    readonly spent: string;
    readonly cap: string;
    readonly ownLimit: string | null;
  }[];
}

const scopeNames: Readonly<Record<string, string>> = {
  content: 'Content',
  goods: 'Goods',
  resellable: 'Gift cards, game currency and transit top-ups',
};

function scopeName(scope: string): string {
  return scopeNames[scope] ?? `Merchant ${scope.slice('merchant:'.length)}`;
}

/** Per mille of the cap spent, for a progress bar: whole numbers, no float money. */
function perMille(spent: string, cap: string): number {
  const spentMicros = microsOf(spent) ?? 0n;
  const capMicros = microsOf(cap) ?? 0n;
  if (capMicros === 0n) return 1000;
  const share = (spentMicros * 1000n) / capMicros;
  return Number(share > 1000n ? 1000n : share);
}

/**
 * This month's spending against each monthly cap in force (the platform's, or the user's own
 * where lower), so that a refusal at a cap is no surprise. Months roll over in the operator's
 * time zone, which the caption names.
 */
export class SpendingProgress extends MiteElement {
  static override properties = { data: { state: true }, failure: { state: true } };

  declare data: Spending | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  /** Loads again: the page calls it after a limit changed. */
  async load(): Promise<void> {
    const result = await callApi<Spending>('GET', '/v1/users/me/spending');
    if (result.ok) this.data = result.value;
    else this.failure = describeProblem(result.problem);
  }

  protected override render() {
    if (this.failure !== undefined) {
      return html`<p class="notice error" role="alert">${this.failure}</p>`;
    }
    const data = this.data;
    if (data === undefined) return nothing;
    return html`<table data-testid="spending">
      <caption>
        Spent this month (${data.month}, ${data.timeZone} time), against each monthly cap
      </caption>
      <thead>
        <tr>
          <th scope="col">What</th>
          <th scope="col">Spent</th>
          <th scope="col">Cap</th>
        </tr>
      </thead>
      <tbody>
        ${data.scopes.map(
          (row) =>
            html`<tr data-testid=${`spending-${row.scope}`}>
              <th scope="row">${scopeName(row.scope)}</th>
              <td>
                ${showAmount(row.spent)}
                <progress
                  max="1000"
                  value=${perMille(row.spent, row.cap)}
                  aria-label=${`${scopeName(row.scope)}: ${showAmount(row.spent)} of ${showAmount(row.cap)}`}
                ></progress>
              </td>
              <td>${showAmount(row.cap)}${row.ownLimit === null ? '' : ' (your limit)'}</td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  }
}

customElements.define('mite-spending-progress', SpendingProgress);
