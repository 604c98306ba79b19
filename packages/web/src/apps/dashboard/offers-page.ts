import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, focusFirstInvalid } from '../shared/forms.ts';
import { showAmount } from '../shared/money.ts';
import { DashboardScreenElement } from './dashboard-screen.ts';
import { holdsScope, leaveOnEndedSession } from './merchant-session.ts';
import {
  checkOffer,
  draftOf,
  emptyDraft,
  type OfferDraft,
  type OfferField,
  type OfferItem,
  offerLimits,
  percentOf,
} from './offer-form.ts';
import './dashboard-shell.ts';
import './fair-price-cap-form.ts';

interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** Offers per page; "Show older" asks for the next. */
const pageSize = 20;

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

function accessText(seconds: number): string {
  if (seconds === 0) return 'None';
  if (seconds % 86_400 === 0) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  return `${seconds} s`;
}

/**
 * The merchant's offers with their revenue splits, and a form that publishes a new one, checked
 * in the page before it is sent. Offers do not change once published (the platform's purchases
 * rely on that), so "Copy" fills the form with one to publish a changed offer.
 */
export class OffersPage extends DashboardScreenElement {
  static override properties = {
    offers: { state: true },
    failure: { state: true },
    draft: { state: true },
    errors: { state: true },
    formFailure: { state: true },
    published: { state: true },
    busy: { state: true },
  };

  declare offers: Page<OfferItem> | undefined;
  declare failure: string | undefined;
  declare draft: OfferDraft;
  declare errors: Partial<Record<OfferField, string>>;
  declare formFailure: string | undefined;
  declare published: string | undefined;
  declare busy: boolean;
  /** One per draft sent: a retry after no answer publishes it once. */
  private idempotencyKey = crypto.randomUUID();

  constructor() {
    super();
    this.draft = emptyDraft;
    this.errors = {};
    this.busy = false;
  }

  protected override async load(): Promise<void> {
    this.offers = await this.nextPage(undefined);
  }

  private async nextPage(shown: Page<OfferItem> | undefined): Promise<Page<OfferItem>> {
    const merchantId = encodeURIComponent(this.session?.merchantId ?? '');
    const cursor = shown?.nextCursor;
    const after = cursor == null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const path = `/v1/merchants/${merchantId}/offers?limit=${pageSize}${after}`;
    const result = await callApi<Page<OfferItem>>('GET', path);
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.failure = describeProblem(result.problem);
      }
      return shown ?? { items: [], nextCursor: null };
    }
    return {
      items: [...(shown?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
  }

  /** Every edit is a new draft, and so a new request. */
  private edit(change: Partial<OfferDraft>): void {
    this.draft = { ...this.draft, ...change };
    this.idempotencyKey = crypto.randomUUID();
  }

  private onInput(event: Event): void {
    const target = event.target as HTMLInputElement | HTMLSelectElement;
    const split = target.dataset.split;
    if (split !== undefined) {
      const [index, part] = split.split(':') as [string, 'merchantId' | 'percent'];
      const splits = this.draft.splits.map((row, at) =>
        at === Number(index) ? { ...row, [part]: target.value } : row,
      );
      this.edit({ splits });
    } else if (target.name in this.draft) {
      this.edit({ [target.name]: target.value } as Partial<OfferDraft>);
    }
  }

  private async copy(offer: OfferItem): Promise<void> {
    this.edit(draftOf(offer, this.session?.merchantId ?? ''));
    this.errors = {};
    this.published = undefined;
    await this.updateComplete;
    this.querySelector<HTMLElement>('#new-offer-heading')?.focus();
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const checked = checkOffer(this.draft);
    this.formFailure = undefined;
    this.published = undefined;
    if (!checked.ok) {
      this.errors = checked.errors;
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.errors = {};
    this.busy = true;
    const result = await callApi<{ id: string; title: string; price: string }>(
      'POST',
      '/v1/offers',
      { body: checked.body, idempotencyKey: this.idempotencyKey },
    );
    this.busy = false;
    if (!result.ok) {
      if (!leaveOnEndedSession(result.problem.status)) {
        this.formFailure = `The offer was not published. ${describeProblem(result.problem)}`;
      }
      return;
    }
    this.published = `Published “${result.value.title}” at ${showAmount(result.value.price)} (offer ${result.value.id}).`;
    this.draft = emptyDraft;
    this.idempotencyKey = crypto.randomUUID();
    await this.load();
  }

  protected override render() {
    const mayWrite = this.session !== undefined && holdsScope(this.session, 'offers:write');
    return html`<h1>Offers</h1>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      ${this.renderOffers(mayWrite)} ${mayWrite ? this.renderForm() : nothing}
      ${
        mayWrite
          ? html`<mite-fair-price-cap
              merchant-id=${this.session?.merchantId ?? ''}
            ></mite-fair-price-cap>`
          : nothing
      }`;
  }

  private renderOffers(mayWrite: boolean) {
    const offers = this.offers?.items;
    if (offers === undefined) return html`<p role="status">Loading your offers…</p>`;
    if (offers.length === 0) return html`<p>No offers yet.</p>`;
    return html`<div class="table-scroll">
        <table class="responsive-table" aria-label="Your offers" data-testid="offers">
          <thead>
            <tr>
              <th scope="col">Offer</th>
              <th scope="col" class="amount">Price</th>
              <th scope="col">Kind</th>
              <th scope="col">Access</th>
              <th scope="col">Revenue split</th>
              <th scope="col">Published</th>
              ${mayWrite ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : nothing}
            </tr>
          </thead>
          <tbody>
            ${offers.map(
              (offer) =>
                html`<tr>
                  <td data-label="Offer">
                    ${offer.title}<br /><code>${offer.resource}</code> <br /><span class="hint"
                      >${offer.offerId}</span
                    >
                  </td>
                  <td data-label="Price" class="amount">${showAmount(offer.price)}</td>
                  <td data-label="Kind">${offer.category === 'content' ? 'Content' : 'Goods'}</td>
                  <td data-label="Access">${accessText(offer.accessPeriodSeconds)}</td>
                  <td data-label="Revenue split">${this.splitText(offer)}</td>
                  <td data-label="Published">
                    ${dateFormat.format(new Date(offer.createdAt))}${offer.archivedAt === null ? '' : ' (archived)'}
                  </td>
                  ${
                    mayWrite
                      ? html`<td data-label="Actions">
                          <button type="button" class="secondary" @click=${() => this.copy(offer)}>
                            Copy<span class="visually-hidden">
                              “${offer.title}” into a new offer</span
                            >
                          </button>
                        </td>`
                      : nothing
                  }
                </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${
        this.offers?.nextCursor == null
          ? nothing
          : html`<p>
              <button
                type="button"
                class="secondary"
                @click=${async () => (this.offers = await this.nextPage(this.offers))}
              >
                Show older offers
              </button>
            </p>`
      }`;
  }

  private splitText(offer: OfferItem) {
    const own = this.session?.merchantId;
    return offer.splits
      .map(
        (split) =>
          `${split.merchantId === own ? 'You' : split.merchantId} ${percentOf(split.shareBasisPoints)}%`,
      )
      .join(', ');
  }

  private renderForm() {
    const draft = this.draft;
    return html`<section aria-labelledby="new-offer-heading" class="panel">
      <h2 id="new-offer-heading" tabindex="-1">Publish an offer</h2>
      ${this.published === undefined ? nothing : html`<p class="notice success" role="status">${this.published}</p>`}
      ${this.formFailure === undefined ? nothing : html`<p class="notice error" role="alert">${this.formFailure}</p>`}
      <form
        novalidate
        aria-labelledby="new-offer-heading"
        @submit=${this.submit}
        @input=${this.onInput}
        @change=${this.onInput}
      >
        ${field({ id: 'title', label: 'Title', value: draft.title, error: this.errors.title })}
        ${field({
          id: 'resource',
          label: 'What you sell (path or URL)',
          value: draft.resource,
          hint: 'The resource your site sells, like /articles/42.',
          error: this.errors.resource,
        })}
        <div class="field-row">
          ${field({ id: 'price', label: 'Price (USD)', inputmode: 'decimal', value: draft.price, hint: 'Up to 6 decimals: 0.002 is a fifth of a cent.', error: this.errors.price })}
          ${field({
            id: 'accessHours',
            label: 'Access (hours)',
            inputmode: 'numeric',
            value: draft.accessHours,
            hint: `How long one purchase opens it, 0 to ${offerLimits.accessHoursMax}.`,
            error: this.errors.accessHours,
          })}
          <div class="field">
            <label for="category">Kind</label>
            <select id="category" name="category" .value=${draft.category}>
              <option value="content">Content</option>
              <option value="goods">Goods</option>
            </select>
          </div>
        </div>
        ${this.renderSplits()}
        <div><button type="submit" ?disabled=${this.busy}>Publish the offer</button></div>
      </form>
    </section>`;
  }

  private renderSplits() {
    const rows = this.draft.splits;
    return html`<fieldset
      aria-describedby="splits-hint${this.errors.splits === undefined ? '' : ' splits-error'}"
    >
      <legend>Revenue split</legend>
      <p class="hint" id="splits-hint">
        Without one, the whole revenue after the platform's fee is yours. With one, name every
        merchant who shares it (yourself too) and their shares, adding up to 100%.
      </p>
      ${rows.map(
        (row, index) =>
          html`<div class="field-row">
            <div class="field">
              <label for="split-merchant-${index}">Merchant ${index + 1}</label>
              <input
                id="split-merchant-${index}"
                data-split="${index}:merchantId"
                .value=${row.merchantId}
                autocomplete="off"
              />
            </div>
            <div class="field">
              <label for="split-percent-${index}">Share (%)</label>
              <input
                id="split-percent-${index}"
                data-split="${index}:percent"
                inputmode="decimal"
                .value=${row.percent}
                autocomplete="off"
              />
            </div>
            <div class="field">
              <span aria-hidden="true">&nbsp;</span>
              <button
                type="button"
                class="secondary"
                @click=${() => this.edit({ splits: rows.filter((_row, at) => at !== index) })}
              >
                Remove<span class="visually-hidden"> merchant ${index + 1}</span>
              </button>
            </div>
          </div>`,
      )}
      ${this.errors.splits === undefined ? nothing : html`<p class="field-error" id="splits-error" role="alert">${this.errors.splits}</p>`}
      ${
        rows.length >= offerLimits.splitPartiesMax
          ? nothing
          : html`<p>
              <button type="button" class="secondary" @click=${this.addSplit}>
                Add a merchant to the split
              </button>
            </p>`
      }
    </fieldset>`;
  }

  private addSplit(): void {
    const first = this.draft.splits.length === 0;
    const own = first ? [{ merchantId: this.session?.merchantId ?? '', percent: '' }] : [];
    this.edit({ splits: [...this.draft.splits, ...own, { merchantId: '', percent: '' }] });
  }
}

customElements.define('mite-dashboard-offers', OffersPage);
