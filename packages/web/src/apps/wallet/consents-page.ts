import { html, nothing, type TemplateResult } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  activeConsent,
  type ActiveConsents,
  type Consent,
  type ConsentPurpose,
  grantConsent,
  readConsents,
  revokeConsent,
  showWhen,
  wholeWalletScope,
} from '../shared/consents.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { showAmount } from '../shared/money.ts';
import './session.ts';
import '../shared/styles.css';

/** `GET /v1/wallet/suggestions`. */
interface Suggestions {
  readonly personalised: boolean;
  readonly suggestions: readonly {
    readonly offerId: string;
    readonly merchantName: string;
    readonly title: string;
    readonly price: string;
  }[];
}

/** Merchants the person bought from, by id: whom they may share their email with. */
type Merchants = ReadonlyMap<string, string>;

/** How many recent purchases name the merchants offered for email sharing. */
const purchasesRead = 100;

const purposeNames: Readonly<Record<ConsentPurpose, string>> = {
  autoPay: 'Automatic payments',
  shareEmail: 'Email shared',
  suggestions: 'Suggestions',
};

/**
 * The wallet's consents (`/wallet/consents/`): each one granted or revoked with one click, each
 * showing when and under which version of its text; the suggestions they allow; the history.
 */
export class ConsentsPage extends MiteElement {
  static override properties = {
    state: { state: true },
    merchants: { state: true },
    suggestions: { state: true },
    history: { state: true },
    failure: { state: true },
    busy: { state: true },
  };

  declare state: ActiveConsents | undefined;
  declare merchants: Merchants;
  declare suggestions: Suggestions | undefined;
  declare history: readonly Consent[];
  declare failure: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.merchants = new Map();
    this.history = [];
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const [consents, purchases, suggestions, history] = await Promise.all([
      readConsents(),
      callApi<{ items: { merchantId: string; merchantName: string }[] }>(
        'GET',
        `/v1/wallet/purchases?limit=${purchasesRead}`,
      ),
      callApi<Suggestions>('GET', '/v1/wallet/suggestions'),
      callApi<{ items: Consent[] }>('GET', '/v1/consents/history?limit=100'),
    ]);
    if (!consents.ok && consents.problem.status === 401) {
      window.location.assign(walletPaths.logIn);
      return;
    }
    const failed = [consents, purchases, suggestions, history].find((result) => !result.ok);
    if (failed !== undefined && !failed.ok) this.failure = describeProblem(failed.problem);
    if (consents.ok) this.state = consents.value;
    if (purchases.ok) {
      this.merchants = new Map(
        purchases.value.items.map((item) => [item.merchantId, item.merchantName]),
      );
    }
    if (suggestions.ok) this.suggestions = suggestions.value;
    if (history.ok) this.history = history.value.items;
  }

  /** One click: grants the consent if it is off, revokes it if it is on. */
  private async toggle(purpose: ConsentPurpose, scope: string): Promise<void> {
    const state = this.state;
    const text = state?.texts.find((candidate) => candidate.purpose === purpose);
    if (state === undefined || text === undefined) return;
    const active = activeConsent(state.consents, purpose, scope);
    this.busy = true;
    this.failure = undefined;
    const result =
      active === undefined
        ? await grantConsent(purpose, scope, text)
        : await revokeConsent(active.id);
    if (!result.ok) this.failure = describeProblem(result.problem);
    await this.load();
    this.busy = false;
  }

  protected override render() {
    return html`<h1>Your consents</h1>
      <p>
        What Mite does with your data beyond paying is up to you. Each consent below is off until
        you turn it on, stops at once when you turn it off, and is recorded with the time and the
        words you agreed to.
      </p>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      ${this.state === undefined ? html`<p role="status">Loading…</p>` : this.renderConsents(this.state)}
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderConsents(state: ActiveConsents) {
    const sites = state.consents.filter((consent) => consent.purpose === 'autoPay');
    const merchants = new Map(this.merchants);
    for (const consent of state.consents) {
      if (consent.purpose === 'shareEmail' && !merchants.has(consent.scope)) {
        merchants.set(consent.scope, consent.scope);
      }
    }
    return html`<section aria-labelledby="suggestions-heading">
        <h2 id="suggestions-heading">Personalised suggestions</h2>
        ${this.renderText('suggestions')}
        ${this.renderSwitch('suggestions', wholeWalletScope, 'personalised suggestions')}
        ${this.renderSuggestions()}
      </section>
      <section aria-labelledby="autopay-heading">
        <h2 id="autopay-heading">Automatic payments</h2>
        ${this.renderText('autoPay')}
        ${
          sites.length === 0
            ? html`<p>
                No site is paid automatically. The payment window offers it when you pay a site.
              </p>`
            : html`<ul>
                ${sites.map((site) => html`<li>${this.renderSwitch('autoPay', site.scope, site.scope)}</li>`)}
              </ul>`
        }
      </section>
      <section aria-labelledby="email-heading">
        <h2 id="email-heading">Your email and merchants</h2>
        ${this.renderText('shareEmail')}
        ${
          merchants.size === 0
            ? html`<p>
                Merchants you buy from are listed here. They know you only by a pseudonym.
              </p>`
            : html`<ul>
                ${[...merchants].map(
                  ([id, name]) => html`<li>${this.renderSwitch('shareEmail', id, name)}</li>`,
                )}
              </ul>`
        }
      </section>
      ${this.renderHistory()}`;
  }

  private renderText(purpose: ConsentPurpose) {
    const text = this.state?.texts.find((candidate) => candidate.purpose === purpose);
    if (text === undefined) return nothing;
    return html`<blockquote>
      <p>${text.text}</p>
      <footer>Text version ${text.version}</footer>
    </blockquote>`;
  }

  /** What the consent is, whether it is on (since when, to which text), and its one button. */
  private renderSwitch(purpose: ConsentPurpose, scope: string, what: string): TemplateResult {
    const active = activeConsent(this.state?.consents ?? [], purpose, scope);
    const testId = `${purpose}:${scope}`;
    return html`<p data-testid=${testId}>
      <span data-testid="consent-status"
        >${
          active === undefined
            ? html`Off for ${what}.`
            : html`On for ${what} since ${showWhen(active.grantedAt)} (text ${active.textVersion}).`
        }</span
      >
      <button
        type="button"
        class=${active === undefined ? '' : 'secondary'}
        ?disabled=${this.busy}
        aria-label=${`${active === undefined ? 'Turn on' : 'Turn off'}: ${purposeNames[purpose]}, ${what}`}
        @click=${() => this.toggle(purpose, scope)}
      >
        ${active === undefined ? 'Turn on' : 'Turn off'}
      </button>
    </p>`;
  }

  private renderSuggestions() {
    const answer = this.suggestions;
    if (answer === undefined) return nothing;
    if (!answer.personalised) {
      return html`<p data-testid="suggestions">
        Suggestions are off: your purchases are not used for them.
      </p>`;
    }
    if (answer.suggestions.length === 0) {
      return html`<p data-testid="suggestions">Nothing to suggest yet.</p>`;
    }
    return html`<ul data-testid="suggestions">
      ${answer.suggestions.map(
        (item) =>
          html`<li>${item.title}, from ${item.merchantName}: ${showAmount(item.price)}</li>`,
      )}
    </ul>`;
  }

  /** A scope as people read it: the merchant's name, the site, or the whole wallet. */
  private scopeName(scope: string): string {
    if (scope === wholeWalletScope) return 'Your whole wallet';
    return this.merchants.get(scope) ?? scope;
  }

  private renderHistory() {
    if (this.history.length === 0) return nothing;
    return html`<section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      <table data-testid="consent-history">
        <thead>
          <tr>
            <th scope="col">Consent</th>
            <th scope="col">For</th>
            <th scope="col">Given</th>
            <th scope="col">Withdrawn</th>
          </tr>
        </thead>
        <tbody>
          ${this.history.map(
            (consent) =>
              html`<tr>
                <td>${purposeNames[consent.purpose]}</td>
                <td>${this.scopeName(consent.scope)}</td>
                <td>${showWhen(consent.grantedAt)} (text ${consent.textVersion})</td>
                <td>
                  ${
                    consent.revokedAt === null
                      ? '—'
                      : `${showWhen(consent.revokedAt)} (text ${consent.revokedTextVersion ?? ''})`
                  }
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>`;
  }
}

customElements.define('mite-consents-page', ConsentsPage);
