import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { leaveOnEndedSession } from './merchant-session.ts';

/** `GET /v1/merchants/{id}/redemptions` items. */
interface Redemption {
  readonly paymentId: string;
  readonly redeemer: string | null;
  readonly redeemedBy: 'buyer' | 'otherCustomer' | 'outsideAccount';
  readonly redeemedAt: string;
  readonly reportedAt: string;
}

interface Page {
  readonly items: Redemption[];
  readonly nextCursor: string | null;
}

/** Rows per page; "Show older" asks for the next page. */
const pageSize = 20;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

const redeemerNames: Readonly<Record<Redemption['redeemedBy'], string>> = {
  buyer: 'The buyer',
  otherCustomer: 'Another customer',
  outsideAccount: 'An account outside Mite',
};

/**
 * The codes (gift cards, game currency) this merchant reported redeemed, newest report first, a
 * page at a time: which payment bought each, who redeemed it as the merchant named them, and
 * when. Shown only to merchants that reported some: a shop that sells no codes has none.
 */
export class RedemptionsList extends MiteElement {
  static override properties = {
    merchantId: {},
    shown: { state: true },
    failure: { state: true },
  };

  declare merchantId: string;
  declare shown: Page | undefined;
  declare failure: string | undefined;
  private started = false;

  override connectedCallback(): void {
    super.connectedCallback();
    // Moved into the shell's main, it is connected again: it loads once.
    if (this.started) return;
    this.started = true;
    void this.more();
  }

  private async more(): Promise<void> {
    const cursor = this.shown?.nextCursor;
    const after = cursor == null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const merchantId = encodeURIComponent(this.merchantId);
    const result = await callApi<Page>(
      'GET',
      `/v1/merchants/${merchantId}/redemptions?limit=${pageSize}${after}`,
    );
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = describeProblem(result.problem);
      }
      return;
    }
    this.shown = {
      items: [...(this.shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
  }

  protected override render() {
    if (this.failure !== undefined) {
      return html`<p class="notice error" role="alert">${this.failure}</p>`;
    }
    const items = this.shown?.items;
    if (items === undefined || items.length === 0) return nothing;
    return html`<h2 id="redemptions-heading">Codes redeemed</h2>
      <div class="table-scroll">
        <table
          class="responsive-table"
          aria-labelledby="redemptions-heading"
          data-testid="redemptions"
        >
          <thead>
            <tr>
              <th scope="col">Redeemed</th>
              <th scope="col">Payment</th>
              <th scope="col">By</th>
              <th scope="col">Reported</th>
            </tr>
          </thead>
          <tbody>
            ${items.map(
              (item) =>
                html`<tr>
                  <td data-label="Redeemed">${dateFormat.format(new Date(item.redeemedAt))}</td>
                  <td data-label="Payment"><code>${item.paymentId}</code></td>
                  <td data-label="By">
                    ${redeemerNames[item.redeemedBy]}
                    ${item.redeemer === null ? nothing : html`<code>${item.redeemer}</code>`}
                  </td>
                  <td data-label="Reported">${dateFormat.format(new Date(item.reportedAt))}</td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${
        this.shown?.nextCursor == null
          ? nothing
          : html`<p>
              <button type="button" class="secondary" @click=${() => this.more()}>
                Show older redemptions
              </button>
            </p>`
      }`;
  }
}

customElements.define('mite-redemptions-list', RedemptionsList);
