import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  alertOf,
  loadMerchantSession,
  type MerchantSession,
  type Page,
  pagePath,
  when,
} from './merchant-context.ts';
import '../shared/styles.css';
import './account-screens.css';

/** `GET` and `PUT /v1/bank-account`. */
interface BankAccount {
  readonly holderName: string;
  readonly iban: string;
  readonly bic: string;
  readonly updatedAt: string;
  readonly payoutsHeldUntil: string;
}

/** `GET /v1/merchants/{id}/payouts` items. */
interface Payout {
  readonly payoutId: string;
  readonly batchId: string;
  readonly amount: string;
  readonly state: 'pending' | 'paid' | 'failed';
  readonly failureCode: string | null;
  readonly createdAt: string;
  readonly completedAt: string | null;
  readonly bankTransfer: {
    readonly remittanceInformation: string;
    readonly ibanLast4: string;
  } | null;
  readonly reconciliation: {
    readonly state: 'matches' | 'pending' | 'mismatch';
    readonly problems: readonly string[];
  };
}

type BankField = 'holderName' | 'iban' | 'bic';

/** pain.001's name length (server: payouts/bank-details.ts). */
const holderNameLengthMax = 140;
const payoutsPageSize = 20;
const ibanPattern = /^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/;
const bicPattern = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;

/** Whether an IBAN (no spaces, upper case) has the right form and check digits (mod 97 = 1). */
function ibanIsValid(iban: string): boolean {
  if (!ibanPattern.test(iban)) return false;
  let remainder = 0;
  for (const character of iban.slice(4) + iban.slice(0, 4)) {
    const value = Number.parseInt(character, 36);
    remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}

/** An IBAN as shown on screen: its country and last four characters only. */
export function maskedIban(iban: string): string {
  return `${iban.slice(0, 2)}•• •••• … ${iban.slice(-4)}`;
}

const stateTexts = { pending: 'Being paid', paid: 'Paid', failed: 'Failed' } as const;
const reconciliationTexts = {
  matches: 'Matches the ledger',
  pending: 'Waiting for its batch',
  mismatch: 'Does not match',
} as const;

/**
 * Where the merchant is paid and what it was paid: the bank account (masked; changed with the
 * cooling-off explained) and the payouts with their batch, bank transfer and ledger check.
 */
export class PayoutsPage extends MiteElement {
  static override properties = {
    session: { state: true },
    account: { state: true },
    payouts: { state: true },
    failure: { state: true },
    errors: { state: true },
    outcome: { state: true },
    busy: { state: true },
  };

  declare session: MerchantSession | undefined;
  /** null: no account is set. */
  declare account: BankAccount | null | undefined;
  declare payouts: Page<Payout> | undefined;
  declare failure: string | undefined;
  declare errors: FieldErrors<BankField>;
  declare outcome: { readonly ok: boolean; readonly message: string } | undefined;
  declare busy: boolean;
  private unanswered: { key: string; body: string } | undefined;

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
    const session = await loadMerchantSession();
    if (typeof session === 'string') {
      this.failure = session;
      return;
    }
    this.session = session;
    await Promise.all([this.loadAccount(), this.morePayouts()]);
  }

  private async loadAccount(): Promise<void> {
    const result = await callApi<BankAccount>('GET', '/v1/bank-account');
    if (result.ok) this.account = result.value;
    else if (result.problem.status === 404) this.account = null;
    else this.failure = describeProblem(result.problem);
  }

  private async morePayouts(): Promise<void> {
    const session = this.session;
    if (session === undefined) return;
    const base = `/v1/merchants/${encodeURIComponent(session.merchantId)}/payouts`;
    const result = await callApi<Page<Payout>>(
      'GET',
      pagePath(base, payoutsPageSize, this.payouts),
    );
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    this.payouts = {
      items: [...(this.payouts?.items ?? []), ...result.value.items],
      nextCursor: result.value.nextCursor,
    };
  }

  private check(form: HTMLFormElement) {
    const errors: FieldErrors<BankField> = {};
    const holderName = inputValue(form, 'holderName').trim();
    if (holderName.length === 0 || holderName.length > holderNameLengthMax) {
      errors.holderName = `Enter the account holder's name, at most ${holderNameLengthMax} characters.`;
    }
    const iban = inputValue(form, 'iban').replace(/[\s-]/g, '').toUpperCase();
    if (!ibanIsValid(iban)) {
      errors.iban = 'This is not an IBAN: check it against your bank statement.';
    }
    const bic = inputValue(form, 'bic').replace(/\s/g, '').toUpperCase();
    if (!bicPattern.test(bic)) errors.bic = 'A BIC has 8 or 11 letters and digits.';
    this.errors = errors;
    return Object.keys(errors).length === 0 ? { holderName, iban, bic } : undefined;
  }

  private async save(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    this.outcome = undefined;
    const body = this.check(form);
    if (body === undefined) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    const text = JSON.stringify(body);
    const key = this.unanswered?.body === text ? this.unanswered.key : crypto.randomUUID();
    this.busy = true;
    const result = await callApi<BankAccount>('PUT', '/v1/bank-account', {
      body,
      idempotencyKey: key,
    });
    this.busy = false;
    this.unanswered = !result.ok && result.problem.status === 0 ? { key, body: text } : undefined;
    if (!result.ok) {
      this.outcome = { ok: false, message: `Not saved. ${describeProblem(result.problem)}` };
      return;
    }
    form.reset();
    this.account = result.value;
    this.outcome = {
      ok: true,
      message: `Saved. Payouts to this account start after ${when(result.value.payoutsHeldUntil)}.`,
    };
  }

  protected override render() {
    return html`<h1>Payouts</h1>
      <p>
        The platform pays your balance to your bank account in payout runs, once it reaches your
        payout threshold, in whole cents (what is under a cent waits for the next payout).
      </p>
      ${alertOf(this.failure)} ${this.renderAccount()} ${this.renderPayouts()} ${this.renderForm()}`;
  }

  private renderAccount() {
    const account = this.account;
    if (account === undefined) return nothing;
    if (account === null) {
      return html`<h2>Bank account</h2>
        <p data-testid="bank-account">No bank account is set: payouts wait until you set one.</p>`;
    }
    const held = Date.parse(account.payoutsHeldUntil) > Date.now();
    return html`<h2 id="account-heading">Bank account</h2>
      <dl class="figures" aria-labelledby="account-heading" data-testid="bank-account">
        <dt>Holder</dt>
        <dd>${account.holderName}</dd>
        <dt>IBAN</dt>
        <dd>
          <span aria-hidden="true">${maskedIban(account.iban)}</span
          ><span class="visually-hidden">ending in ${account.iban.slice(-4)}</span>
        </dd>
        <dt>BIC</dt>
        <dd>${account.bic}</dd>
        <dt>Set</dt>
        <dd>${when(account.updatedAt)}</dd>
      </dl>
      ${
        held
          ? html`<p class="notice pending" data-testid="hold">
              Payouts to this account are held until ${when(account.payoutsHeldUntil)}: it was set
              or changed recently.
            </p>`
          : nothing
      }`;
  }

  private renderForm() {
    if (this.account === undefined) return nothing;
    const heading = this.account === null ? 'Set the bank account' : 'Change the bank account';
    return html`<h2 id="bank-form-heading">${heading}</h2>
      <p>
        A cooling-off period protects your money: after the account is set or changed, no payout
        goes to it for a while (48 hours unless the platform set another), and the platform sends a
        <code>bank_account.updated</code> webhook to your endpoints, so that a change you did not
        make is noticed before any money moves.
      </p>
      ${
        this.outcome === undefined
          ? nothing
          : html`<p
              class="notice ${this.outcome.ok ? 'success' : 'error'}"
              role=${this.outcome.ok ? 'status' : 'alert'}
              data-testid="outcome"
            >
              ${this.outcome.message}
            </p>`
      }
      <form novalidate @submit=${this.save} aria-labelledby="bank-form-heading">
        ${field({
          id: 'holderName',
          label: 'Account holder',
          autocomplete: 'organization',
          error: this.errors.holderName,
        })}
        ${field({
          id: 'iban',
          label: 'IBAN',
          hint: 'Spaces are fine.',
          error: this.errors.iban,
        })}
        ${field({ id: 'bic', label: 'BIC', error: this.errors.bic })}
        <div><button type="submit" ?disabled=${this.busy}>Save bank account</button></div>
      </form>`;
  }

  private renderPayouts() {
    const payouts = this.payouts?.items;
    if (payouts === undefined) return nothing;
    return html`<h2 id="payouts-heading">Your payouts</h2>
      ${
        payouts.length === 0
          ? html`<p>No payouts yet.</p>`
          : html`<div class="table-scroll">
              <table
                class="responsive-table"
                aria-labelledby="payouts-heading"
                data-testid="payouts"
              >
                <thead>
                  <tr>
                    <th scope="col">Date</th>
                    <th scope="col" class="amount">Amount</th>
                    <th scope="col">State</th>
                    <th scope="col">Batch</th>
                    <th scope="col">Bank transfer</th>
                    <th scope="col">Reconciliation</th>
                  </tr>
                </thead>
                <tbody>
                  ${payouts.map((payout) => this.renderPayout(payout))}
                </tbody>
              </table>
            </div>`
      }
      ${
        this.payouts?.nextCursor == null
          ? nothing
          : html`<p>
              <button type="button" class="secondary" @click=${this.morePayouts}>
                Show older payouts
              </button>
            </p>`
      }`;
  }

  private renderPayout(payout: Payout) {
    const check = payout.reconciliation;
    const transfer = payout.bankTransfer;
    return html`<tr>
      <td data-label="Date">${when(payout.completedAt ?? payout.createdAt)}</td>
      <td data-label="Amount" class="amount">${showAmount(payout.amount)}</td>
      <td data-label="State">
        ${stateTexts[payout.state]}${payout.failureCode === null ? nothing : ` (${payout.failureCode})`}
      </td>
      <td data-label="Batch"><code>${payout.batchId}</code></td>
      <td data-label="Bank transfer">
        ${
          transfer === null
            ? '–'
            : html`“${transfer.remittanceInformation}” to the account ending in
              ${transfer.ibanLast4}`
        }
      </td>
      <td data-label="Reconciliation">
        <span class=${check.state === 'mismatch' ? 'status-bad' : 'status-good'}>
          ${reconciliationTexts[check.state]}</span
        >${check.problems.length === 0 ? nothing : html`: ${check.problems.join('; ')}`}
      </td>
    </tr>`;
  }
}

customElements.define('mite-payouts-page', PayoutsPage);
