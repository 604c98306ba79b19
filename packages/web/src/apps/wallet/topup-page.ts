import { html, nothing } from 'lit';
import {
  callApi,
  confirmPolicyDecision,
  describeProblem,
  type PolicyChallenge,
  policyChallengeOf,
} from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { centsOf, formatCents, showAmount, topUpCentsMax, topUpCentsMin } from '../shared/money.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { loadWallet, type Wallet } from './session.ts';
import '../shared/styles.css';

type TopUpField = 'amount' | 'number' | 'expiry' | 'cvc';

/** `POST /v1/topups` and `GET /v1/topups/{id}`. */
interface TopUp {
  readonly id: string;
  readonly state: 'pending' | 'succeeded' | 'failed';
  readonly amount: string;
  readonly cardLast4: string | null;
}

/** `GET /v1/funding`: who takes top-ups here, and the sandbox's test cards. */
interface Funding {
  readonly provider: 'none' | 'sandbox' | 'stripe';
  readonly sandbox: boolean;
  readonly testCards: readonly { readonly number: string; readonly description: string }[];
}

/** How often, and how long, a pending top-up is asked about. */
const pollIntervalMs = 1_000;
const pollAttemptsMax = 60;

type Outcome =
  | { readonly kind: 'succeeded'; readonly topUp: TopUp }
  | { readonly kind: 'pending'; readonly topUp: TopUp }
  | { readonly kind: 'failed'; readonly message: string }
  | {
      readonly kind: 'challenged';
      readonly challenge: PolicyChallenge;
      /** The top-up as asked, sent again once confirmed. */
      readonly body: unknown;
    };

function spaced(number: string): string {
  return number.replace(/(.{4})/g, '$1 ').trim();
}

/** Month and year of an expiry typed as MM/YY or MM/YYYY. */
function expiryOf(text: string): { expMonth: number; expYear: number } | undefined {
  const match = /^\s*(0?[1-9]|1[0-2])\s*\/\s*([0-9]{2}|[0-9]{4})\s*$/.exec(text);
  if (match === null) return undefined;
  const year = Number(match[2]);
  return { expMonth: Number(match[1]), expYear: year < 100 ? 2000 + year : year };
}

/** Top up with a card: validated here, charged by the platform's processor, never shown done before it is. */
export class TopUpPage extends MiteElement {
  static override properties = {
    wallet: { state: true },
    funding: { state: true },
    errors: { state: true },
    outcome: { state: true },
    busy: { state: true },
    cardNumber: { state: true },
  };

  declare wallet: Wallet | undefined;
  declare funding: Funding | string | undefined;
  declare errors: FieldErrors<TopUpField>;
  declare outcome: Outcome | undefined;
  declare busy: boolean;
  declare cardNumber: string;
  /** The key of an attempt that got no answer, reused when it is sent again unchanged. */
  private unanswered: { key: string; body: string } | undefined;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
    this.cardNumber = '';
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refreshWallet();
    void this.loadFunding();
  }

  private async loadFunding(): Promise<void> {
    const result = await callApi<Funding>('GET', '/v1/funding');
    this.funding = result.ok ? result.value : describeProblem(result.problem);
  }

  private async refreshWallet(): Promise<void> {
    const wallet = await loadWallet();
    if (typeof wallet !== 'string') this.wallet = wallet;
  }

  private check(form: HTMLFormElement) {
    const errors: FieldErrors<TopUpField> = {};
    const cents = centsOf(inputValue(form, 'amount'));
    if (cents === undefined) errors.amount = 'Enter an amount in dollars, like 10 or 10.50.';
    else if (cents < topUpCentsMin || cents > topUpCentsMax) {
      errors.amount = `Top up between ${formatCents(topUpCentsMin)} and ${formatCents(topUpCentsMax)}.`;
    }
    const number = inputValue(form, 'number').replace(/[\s-]/g, '');
    if (!/^[0-9]{12,19}$/.test(number)) errors.number = 'Enter the card number: 12 to 19 digits.';
    const expiry = expiryOf(inputValue(form, 'expiry'));
    if (expiry === undefined) errors.expiry = 'Enter the expiry as MM/YY.';
    const cvc = inputValue(form, 'cvc').trim();
    if (!/^[0-9]{3,4}$/.test(cvc)) errors.cvc = 'Enter the 3 or 4 digits on the back.';
    this.errors = errors;
    if (Object.keys(errors).length > 0 || cents === undefined || expiry === undefined) {
      return undefined;
    }
    return { amount: formatCents(cents), card: { number, ...expiry, cvc } };
  }

  private async submit(event: SubmitEvent): Promise<void> {
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
    const result = await callApi<TopUp>('POST', '/v1/topups', { body, idempotencyKey: key });
    this.unanswered = !result.ok && result.problem.status === 0 ? { key, body: text } : undefined;
    if (!result.ok) {
      this.busy = false;
      const challenge = policyChallengeOf(result.problem);
      this.outcome =
        challenge === undefined
          ? { kind: 'failed', message: describeProblem(result.problem) }
          : { kind: 'challenged', challenge, body };
      return;
    }
    await this.follow(result.value);
    this.busy = false;
  }

  /**
   * The person confirms the top-up the policy challenged: confirmed, then sent again naming the
   * decision, under a new key (the platform kept the refusal as the first key's answer).
   */
  private async confirmAndTopUp(): Promise<void> {
    const outcome = this.outcome;
    if (outcome?.kind !== 'challenged' || this.busy) return;
    this.busy = true;
    const confirmed = await confirmPolicyDecision(outcome.challenge.decisionId);
    const result = confirmed.ok
      ? await callApi<TopUp>('POST', '/v1/topups', {
          body: outcome.body,
          idempotencyKey: crypto.randomUUID(),
          policyConfirmation: outcome.challenge.decisionId,
        })
      : confirmed;
    if (!result.ok) {
      this.busy = false;
      this.outcome = { kind: 'failed', message: describeProblem(result.problem) };
      return;
    }
    await this.follow(result.value as TopUp);
    this.busy = false;
  }

  /** Shows a pending top-up as pending until the processor's confirmation arrives. */
  private async follow(first: TopUp): Promise<void> {
    let topUp = first;
    for (let attempt = 0; topUp.state === 'pending' && attempt < pollAttemptsMax; attempt++) {
      this.outcome = { kind: 'pending', topUp };
      await new Promise((resolve) => setTimeout(resolve, pollIntervalMs));
      const next = await callApi<TopUp>('GET', `/v1/topups/${encodeURIComponent(topUp.id)}`);
      if (next.ok) topUp = next.value;
    }
    if (topUp.state === 'succeeded') this.outcome = { kind: 'succeeded', topUp };
    else if (topUp.state === 'failed') {
      this.outcome = {
        kind: 'failed',
        message:
          'The card processor did not confirm the payment: nothing was added to your wallet.',
      };
    } else this.outcome = { kind: 'pending', topUp };
    await this.refreshWallet();
  }

  private useCard(number: string): void {
    this.cardNumber = spaced(number);
    this.querySelector<HTMLInputElement>('#number')?.focus();
  }

  protected override render() {
    return html`<h1>Top up your wallet</h1>
      ${
        this.wallet === undefined
          ? nothing
          : html`<p>
              Balance: <strong data-testid="balance">${showAmount(this.wallet.balance)}</strong>
            </p>`
      }
      ${this.renderOutcome()} ${this.renderFundingOrForm()}
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  /** The card form where the sandbox takes top-ups; else why this page cannot take a card. */
  private renderFundingOrForm() {
    const funding = this.funding;
    if (funding === undefined) return html`<p role="status">Loading…</p>`;
    if (typeof funding === 'string') {
      return html`<p class="notice error" role="alert">${funding}</p>`;
    }
    if (funding.provider === 'none') {
      return html`<p class="notice">
        This platform takes no top-ups: its operator has set up no card processor.
      </p>`;
    }
    if (funding.provider === 'stripe') {
      return html`<p class="notice">
        This platform takes cards through Stripe, whose card form this wallet does not show yet: top
        up from an app that uses Stripe's own library.
      </p>`;
    }
    return html`<form novalidate @submit=${this.submit} aria-label="Top up">
        ${field({
          id: 'amount',
          label: 'Amount (USD)',
          inputmode: 'decimal',
          hint: 'From 1.00 to 500.00. One card fee covers many small payments.',
          error: this.errors.amount,
        })}
        ${field({
          id: 'number',
          label: 'Card number',
          inputmode: 'numeric',
          autocomplete: 'cc-number',
          error: this.errors.number,
          value: this.cardNumber,
        })}
        <div class="field-row">
          ${field({
            id: 'expiry',
            label: 'Expiry (MM/YY)',
            autocomplete: 'cc-exp',
            error: this.errors.expiry,
          })}
          ${field({
            id: 'cvc',
            label: 'Security code',
            inputmode: 'numeric',
            autocomplete: 'cc-csc',
            error: this.errors.cvc,
          })}
        </div>
        <div><button type="submit" ?disabled=${this.busy}>Top up</button></div>
      </form>
      ${this.renderTestCards(funding)}`;
  }

  private renderOutcome() {
    const outcome = this.outcome;
    if (outcome === undefined) return nothing;
    switch (outcome.kind) {
      case 'succeeded':
        return html`<p class="notice success" role="status" data-testid="outcome">
          Done: ${showAmount(outcome.topUp.amount)} was added to your wallet.
        </p>`;
      case 'pending':
        return html`<p class="notice pending" role="status" data-testid="outcome">
          Pending: waiting for the card processor to confirm ${showAmount(outcome.topUp.amount)}.
          Nothing is added until it does.
        </p>`;
      case 'failed':
        return html`<p class="notice error" role="alert" data-testid="outcome">
          Not topped up. ${outcome.message}
        </p>`;
      case 'challenged':
        return html`<div class="notice" role="alert" data-testid="outcome">
          <p>Not topped up yet. ${outcome.challenge.message}</p>
          <p>
            <button type="button" @click=${this.confirmAndTopUp} ?disabled=${this.busy}>
              Confirm and top up
            </button>
          </p>
        </div>`;
    }
  }

  private renderTestCards(funding: Funding) {
    return html`<h2 id="test-cards-heading">Test cards</h2>
      <p>
        This platform takes top-ups through a sandbox processor: no real money moves. Use one of
        these cards with any future expiry and any 3 digits.
      </p>
      <div class="table-scroll">
        <table class="responsive-table" aria-labelledby="test-cards-heading">
          <thead>
            <tr>
              <th scope="col">Card number</th>
              <th scope="col">What happens</th>
              <th scope="col"><span class="visually-hidden">Action</span></th>
            </tr>
          </thead>
          <tbody>
            ${funding.testCards.map(
              (card) =>
                html`<tr>
                  <td data-label="Card"><code class="card-number">${spaced(card.number)}</code></td>
                  <td data-label="Does">${card.description}</td>
                  <td>
                    <button
                      type="button"
                      class="secondary"
                      aria-label="Use the card ${spaced(card.number)}"
                      @click=${() => this.useCard(card.number)}
                    >
                      Use
                    </button>
                  </td>
                </tr>`,
            )}
          </tbody>
        </table>
      </div>`;
  }
}

customElements.define('mite-top-up-page', TopUpPage);
