import { formatAmount, parseAmount } from '@mite/protocol';
import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { showAmount } from '../shared/money.ts';
import { MiteElement } from '../shared/mite-element.ts';
import {
  paymentName,
  type RefundablePayment,
  type RefundDone,
  refundableMicros,
} from './refund-form-checks.ts';
import { leaveOnEndedSession } from './merchant-session.ts';

/** The longest reason the platform keeps (payment-routes.ts). */
const reasonLengthMax = 500;

type RefundField = 'amount' | 'reason';

/**
 * Refunds a payment in full or in part, in two steps: the amount (checked before anything is
 * sent: above zero, at most what is left), then a confirmation naming what goes back to the
 * buyer. The confirmed request carries one Idempotency-Key, kept for a retry after no answer,
 * so that a refund happens once however often it is sent. Only the platform's 201 shows the
 * refund as done (a `refunded` event); a refusal shows the platform's explanation.
 */
export class RefundForm extends MiteElement {
  static override properties = {
    payment: { attribute: false },
    errors: { state: true },
    failure: { state: true },
    confirming: { state: true },
    busy: { state: true },
    uncertain: { state: true },
  };

  declare payment: RefundablePayment;
  declare errors: FieldErrors<RefundField>;
  declare failure: string | undefined;
  declare confirming: { amountMicros: bigint; reason: string; key: string } | undefined;
  declare busy: boolean;
  /** The last attempt got no answer: it may have been made, so only the same request may follow. */
  declare uncertain: boolean;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
    this.uncertain = false;
  }

  private async review(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const left = refundableMicros(this.payment);
    const parsed = parseAmount(inputValue(form, 'amount').trim());
    const reason = inputValue(form, 'reason').trim();
    const errors: FieldErrors<RefundField> = {};
    if (!parsed.ok || parsed.value === 0n) {
      errors.amount = 'Enter an amount above 0 with at most 6 decimals, like 0.25.';
    } else if (parsed.value > left) {
      errors.amount = `At most ${showAmount(formatAmount(left))} is left to refund.`;
    }
    if (reason.length > reasonLengthMax)
      errors.reason = `Use at most ${reasonLengthMax} characters.`;
    this.errors = errors;
    this.failure = undefined;
    if (!parsed.ok || Object.keys(errors).length > 0) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.confirming = { amountMicros: parsed.value, reason, key: crypto.randomUUID() };
    await this.updateComplete;
    this.querySelector<HTMLButtonElement>('[data-action="confirm"]')?.focus();
  }

  private async send(): Promise<void> {
    const confirming = this.confirming;
    if (confirming === undefined) return;
    this.busy = true;
    this.failure = undefined;
    const result = await callApi<RefundDone>(
      'POST',
      `/v1/payments/${encodeURIComponent(this.payment.paymentId)}/refunds`,
      {
        body: {
          amount: formatAmount(confirming.amountMicros),
          ...(confirming.reason === '' ? {} : { reason: confirming.reason }),
        },
        idempotencyKey: confirming.key,
      },
    );
    this.busy = false;
    if (!result.ok) {
      if (leaveOnEndedSession(result.problem.status)) return;
      this.uncertain = result.problem.status === 0;
      this.failure = this.uncertain
        ? 'No answer came from the platform, so the refund may or may not have been made. ' +
          'Send it again: the platform makes it once however often it is sent.'
        : `The refund was not made. ${describeProblem(result.problem)}`;
      return;
    }
    this.uncertain = false;
    this.dispatchEvent(
      new CustomEvent<RefundDone>('refunded', { detail: result.value, bubbles: true }),
    );
  }

  private cancel(): void {
    this.dispatchEvent(new CustomEvent('cancelled', { bubbles: true }));
  }

  protected override render() {
    const left = formatAmount(refundableMicros(this.payment));
    return html`<h3 id="refund-heading" tabindex="-1">Refund “${paymentName(this.payment)}”</h3>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      ${this.confirming === undefined ? this.renderAmount(left) : this.renderConfirm(this.confirming)}`;
  }

  private renderAmount(left: string) {
    return html`<form novalidate @submit=${this.review} aria-labelledby="refund-heading">
      ${field({
        id: 'amount',
        label: 'Amount to refund (USD)',
        inputmode: 'decimal',
        value: left,
        hint: `Paid ${showAmount(this.payment.amount)}; ${showAmount(left)} can still be refunded.`,
        error: this.errors.amount,
      })}
      ${field({ id: 'reason', label: 'Reason (optional)', error: this.errors.reason })}
      <div class="actions">
        <button type="submit">Review the refund</button>
        <button type="button" class="secondary" @click=${this.cancel}>Cancel</button>
      </div>
    </form>`;
  }

  private renderConfirm(confirming: { amountMicros: bigint; reason: string }) {
    const amount = showAmount(formatAmount(confirming.amountMicros));
    return html`<p data-testid="refund-confirm">
        ${amount} goes back to the buyer's wallet, from your account and those who shared the sale.
        A refund cannot be undone.
      </p>
      <div class="actions">
        <button type="button" data-action="confirm" ?disabled=${this.busy} @click=${this.send}>
          Refund ${amount}
        </button>
        <button
          type="button"
          class="secondary"
          ?disabled=${this.busy || this.uncertain}
          @click=${() => (this.confirming = undefined)}
        >
          Change the amount
        </button>
      </div>`;
  }
}

customElements.define('mite-refund-form', RefundForm);
