import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, inputValue } from '../shared/forms.ts';
import { microsOf, formatMicros, showAmount } from '../shared/money.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import type { AccountStanding } from './dormant-notice.ts';
import type { SpendingProgress } from './spending-progress.ts';
import './dormant-notice.ts';
import './spending-progress.ts';
import './session.ts';
import '../shared/styles.css';

/** `GET /v1/users/me/limits`. */
interface Limits {
  readonly scopes: readonly string[];
  readonly limits: readonly { scope: string; limit: string; updatedAt: string }[];
  readonly changes: readonly LimitChange[];
  readonly account: AccountStanding;
}

interface LimitChange {
  readonly id: string;
  readonly scope: string;
  readonly oldLimit: string | null;
  readonly newLimit: string | null;
  readonly direction: 'raised' | 'lowered';
  readonly changedAt: string;
}

/** One merchant's fair-price cap the user paid towards this month (`GET /v1/users/me/spending`). */
interface FairPriceCap {
  readonly merchantId: string;
  readonly merchantName: string;
  readonly cap: string;
  readonly spent: string;
  readonly left: string;
}

const scopeNames: Readonly<Record<string, string>> = {
  content: 'Content, each month',
  goods: 'Goods, each month',
  resellable: 'Gift cards, game currency and transit top-ups, each month',
  perPayment: 'Any one payment',
  topUpMonthly: 'Top-ups, each month',
};

function scopeName(scope: string): string {
  return scopeNames[scope] ?? `Merchant ${scope.slice('merchant:'.length)}, each month`;
}

const limitText = (limit: string | null) => (limit === null ? 'no limit' : showAmount(limit));

type Outcome =
  | { readonly kind: 'saved'; readonly text: string }
  | { readonly kind: 'confirm' }
  | { readonly kind: 'failed'; readonly message: string };

/**
 * The user's own spending limits (on the platform: limits/user-limit-settings.ts). Lowering
 * saves at once; raising or removing asks for the password, which the platform requires.
 */
export class LimitsPage extends MiteElement {
  static override properties = {
    data: { state: true },
    outcome: { state: true },
    limitError: { state: true },
    passwordError: { state: true },
    busy: { state: true },
    fairPriceCaps: { state: true },
  };

  declare data: Limits | undefined;
  declare outcome: Outcome | undefined;
  declare limitError: string | undefined;
  declare passwordError: string | undefined;
  declare busy: boolean;
  /** Merchants' fair-price caps the user paid towards this month; undefined until read. */
  declare fairPriceCaps: readonly FairPriceCap[] | undefined;

  constructor() {
    super();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const result = await callApi<Limits>('GET', '/v1/users/me/limits');
    if (result.ok) this.data = result.value;
    else if (result.problem.status === 401) window.location.assign(walletPaths.logIn);
    else this.outcome = { kind: 'failed', message: describeProblem(result.problem) };
    const spending = await callApi<{ fairPriceCaps: FairPriceCap[] }>(
      'GET',
      '/v1/users/me/spending',
    );
    if (spending.ok) this.fairPriceCaps = spending.value.fairPriceCaps;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const scope = (form.elements.namedItem('scope') as HTMLSelectElement).value;
    const typed = inputValue(form, 'limit').trim();
    const micros = typed === '' ? undefined : microsOf(typed);
    this.limitError =
      typed !== '' && micros === undefined
        ? 'Enter an amount in dollars, like 20.00, with no sign; or leave it empty.'
        : undefined;
    const password = this.outcome?.kind === 'confirm' ? inputValue(form, 'password') : '';
    this.passwordError =
      this.outcome?.kind === 'confirm' && password === '' ? 'Enter your password.' : undefined;
    if (this.limitError !== undefined || this.passwordError !== undefined) return;
    const limit = micros === undefined ? null : formatMicros(micros);
    this.busy = true;
    const result = await callApi<unknown>('PUT', `/v1/users/me/limits/${scope}`, {
      body: { limit, ...(password === '' ? {} : { password }) },
    });
    this.busy = false;
    if (result.ok) {
      const text =
        limit === null
          ? `${scopeName(scope)}: no limit of your own any more.`
          : `${scopeName(scope)}: ${showAmount(limit)}.`;
      this.outcome = { kind: 'saved', text };
      form.reset();
      await this.load();
      await this.renderRoot.querySelector<SpendingProgress>('mite-spending-progress')?.load();
    } else if (result.problem.slug === 'confirmation-required') {
      this.outcome = { kind: 'confirm' };
    } else if (result.problem.slug === 'invalid-credentials') {
      this.passwordError = 'The password is wrong.';
    } else this.outcome = { kind: 'failed', message: describeProblem(result.problem) };
  }

  protected override render() {
    return html`<h1>Your spending limits</h1>
      <p>
        Limits of your own, below what the platform allows. Lowering a limit takes effect at once;
        raising or removing one asks for your password. A limit of 0 blocks what it limits.
      </p>
      <mite-dormant-notice @mite-reactivated=${() => void this.load()}></mite-dormant-notice>
      ${this.renderOutcome()}
      <mite-spending-progress></mite-spending-progress>
      ${this.data === undefined ? html`<p role="status">Loading…</p>` : this.renderLimits(this.data)}
      ${this.renderFairPriceCaps()}
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderOutcome() {
    const outcome = this.outcome;
    if (outcome === undefined) return nothing;
    if (outcome.kind === 'saved') {
      return html`<p class="notice success" role="status" data-testid="outcome">
        Saved. ${outcome.text}
      </p>`;
    }
    if (outcome.kind === 'confirm') {
      return html`<p class="notice" role="status" data-testid="outcome">
        Raising or removing a limit needs your password: enter it below and save again.
      </p>`;
    }
    return html`<p class="notice error" role="alert" data-testid="outcome">${outcome.message}</p>`;
  }

  private renderLimits(data: Limits) {
    const byScope = new Map(data.limits.map((limit) => [limit.scope, limit.limit]));
    const scopes = [...data.scopes, ...[...byScope.keys()].filter((s) => !data.scopes.includes(s))];
    return html`<table data-testid="limits">
        <caption>
          Your limits now
        </caption>
        <thead>
          <tr>
            <th scope="col">What</th>
            <th scope="col">Your limit</th>
          </tr>
        </thead>
        <tbody>
          ${scopes.map(
            (scope) =>
              html`<tr data-testid=${`limit-${scope}`}>
                <th scope="row">${scopeName(scope)}</th>
                <td>
                  ${byScope.has(scope) ? showAmount(byScope.get(scope) ?? '') : 'No limit of your own'}
                </td>
              </tr>`,
          )}
        </tbody>
      </table>
      <form novalidate @submit=${this.submit} aria-label="Change a limit">
        <div class="field">
          <label for="scope">Limit</label>
          <select id="scope" name="scope">
            ${scopes.map((scope) => html`<option value=${scope}>${scopeName(scope)}</option>`)}
          </select>
        </div>
        ${field({
          id: 'limit',
          label: 'New limit (USD)',
          inputmode: 'decimal',
          hint: 'Leave it empty to remove your limit.',
          error: this.limitError,
        })}
        ${
          this.outcome?.kind === 'confirm'
            ? field({
                id: 'password',
                label: 'Your password',
                type: 'password',
                autocomplete: 'current-password',
                error: this.passwordError,
              })
            : nothing
        }
        <div><button type="submit" ?disabled=${this.busy}>Save limit</button></div>
      </form>
      ${this.renderChanges(data.changes)}`;
  }

  /**
   * Progress towards each merchant's fair-price cap this month: merchants that promise never to
   * charge more than their cap in a month, after which their items are free.
   */
  private renderFairPriceCaps() {
    const caps = this.fairPriceCaps;
    if (caps === undefined || caps.length === 0) return nothing;
    return html`<section data-testid="fair-price-caps" aria-labelledby="fair-price-caps-title">
      <h2 id="fair-price-caps-title">Merchants’ fair-price caps this month</h2>
      <p>
        These merchants never charge you more than their cap in a month: after it, their items are
        free.
      </p>
      <ul>
        ${caps.map((cap) => {
          const spent = microsOf(cap.spent) ?? 0n;
          const whole = microsOf(cap.cap) ?? 1n;
          const percent = Number((spent * 100n) / (whole === 0n ? 1n : whole));
          return html`<li>
            <strong>${cap.merchantName}</strong>: ${showAmount(cap.spent)} of ${showAmount(cap.cap)}
            <progress
              max="100"
              value=${Math.min(percent, 100)}
              aria-label=${`${cap.merchantName}: ${percent}% of its cap`}
            ></progress>
            ${
              cap.left === '0.00' || microsOf(cap.left) === 0n
                ? html`<span>Cap reached: the rest of the month is free.</span>`
                : html`<span>${showAmount(cap.left)} left before the cap.</span>`
            }
          </li>`;
        })}
      </ul>
    </section>`;
  }

  private renderChanges(changes: readonly LimitChange[]) {
    if (changes.length === 0) return html`<p>You have not changed a limit yet.</p>`;
    return html`<table data-testid="changes">
      <caption>
        Your changes, newest first
      </caption>
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">What</th>
          <th scope="col">Change</th>
        </tr>
      </thead>
      <tbody>
        ${changes.map(
          (change) =>
            html`<tr>
              <td>${new Date(change.changedAt).toLocaleString()}</td>
              <td>${scopeName(change.scope)}</td>
              <td>
                ${change.direction === 'raised' ? 'Raised' : 'Lowered'} from
                ${limitText(change.oldLimit)} to ${limitText(change.newLimit)}
                ${change.direction === 'raised' ? '(with your password)' : '(at once)'}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`;
  }
}

customElements.define('mite-limits-page', LimitsPage);
