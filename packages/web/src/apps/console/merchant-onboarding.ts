/**
 * Bringing a merchant onto the platform from the console: the operator names it and its terms,
 * and the person who will run it gets an invitation link (shown here once, for the operator to
 * pass on) with which they set their password and become its owner in the dashboard. Two calls:
 * `POST /v1/merchants`, then `POST /v1/merchants/{id}/invitations`; each click's calls keep their
 * Idempotency-Keys, so sending again after a lost answer makes neither twice.
 */
import { html, nothing } from 'lit';
import { describeProblem } from '../shared/api.ts';
import {
  type FieldErrors,
  field,
  focusFirstInvalid,
  inputValue,
  looksLikeEmail,
} from '../shared/forms.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { basisPointsOf, formatMicros, microsOf } from '../shared/money.ts';
import { failureNotice, newIdempotencyKey, operatorCall } from './console-session.ts';

type Field = 'name' | 'fee' | 'threshold' | 'owner';

interface Draft {
  readonly name: string;
  readonly feeBasisPoints: number;
  readonly payoutThreshold: string;
  readonly owner: string;
  /** One per call of this click, kept for sending it again. */
  readonly merchantKey: string;
  readonly invitationKey: string;
}

function check(form: HTMLFormElement): {
  errors: FieldErrors<Field>;
  draft?: Omit<Draft, 'merchantKey' | 'invitationKey'>;
} {
  const name = inputValue(form, 'name').trim();
  const feeBasisPoints = basisPointsOf(inputValue(form, 'fee'));
  const threshold = microsOf(inputValue(form, 'threshold'));
  const owner = inputValue(form, 'owner').trim();
  const errors: FieldErrors<Field> = {};
  if (name === '' || name.length > 200) errors.name = 'Enter the name people paying it will see.';
  if (feeBasisPoints === undefined) errors.fee = 'Enter a percentage from 0 to 100, like 5 or 2.5.';
  if (threshold === undefined) errors.threshold = 'Enter an amount, like 10.00.';
  if (!looksLikeEmail(owner)) errors.owner = 'Enter an email address, like name@example.com.';
  if (Object.keys(errors).length > 0 || feeBasisPoints === undefined || threshold === undefined) {
    return { errors };
  }
  return {
    errors,
    draft: { name, feeBasisPoints, payoutThreshold: formatMicros(threshold), owner },
  };
}

/** The form, and the invitation link once both calls are done. */
export class MerchantOnboarding extends MiteElement {
  static override properties = {
    errors: { state: true },
    failure: { state: true },
    busy: { state: true },
    invited: { state: true },
  };
  declare errors: FieldErrors<Field>;
  declare failure: string | undefined;
  declare busy: boolean;
  declare invited: { name: string; owner: string; link: string; expiresAt: string } | undefined;
  /** A click whose calls have not both answered: sending again reuses its keys. */
  private pending: (Draft & { merchantId?: string }) | undefined;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const { errors, draft } = check(form);
    this.errors = errors;
    this.failure = undefined;
    this.invited = undefined;
    if (draft === undefined) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    const same =
      this.pending !== undefined &&
      this.pending.name === draft.name &&
      this.pending.feeBasisPoints === draft.feeBasisPoints &&
      this.pending.payoutThreshold === draft.payoutThreshold &&
      this.pending.owner === draft.owner;
    if (!same) {
      this.pending = {
        ...draft,
        merchantKey: newIdempotencyKey(),
        invitationKey: newIdempotencyKey(),
      };
    }
    this.busy = true;
    await this.send(form);
    this.busy = false;
  }

  private async send(form: HTMLFormElement): Promise<void> {
    const pending = this.pending;
    if (pending === undefined) return;
    if (pending.merchantId === undefined) {
      const made = await operatorCall<{ merchantId: string }>('POST', '/v1/merchants', {
        body: {
          name: pending.name,
          feeBasisPoints: pending.feeBasisPoints,
          payoutThreshold: pending.payoutThreshold,
        },
        idempotencyKey: pending.merchantKey,
      });
      if (!made.ok) {
        this.failure = `No merchant was added. ${describeProblem(made.problem)}`;
        return;
      }
      this.pending = { ...pending, merchantId: made.value.merchantId };
      this.dispatchEvent(new CustomEvent('merchant-added', { bubbles: true }));
    }
    const merchantId = this.pending?.merchantId ?? '';
    const invitation = await operatorCall<{ acceptPath: string; expiresAt: string }>(
      'POST',
      `/v1/merchants/${encodeURIComponent(merchantId)}/invitations`,
      { body: { email: pending.owner, role: 'owner' }, idempotencyKey: pending.invitationKey },
    );
    if (!invitation.ok) {
      this.failure =
        `${pending.name} was added, but its owner was not invited. ` +
        `${describeProblem(invitation.problem)} Send the form again to invite them.`;
      return;
    }
    this.invited = {
      name: pending.name,
      owner: pending.owner,
      link: new URL(invitation.value.acceptPath, window.location.origin).href,
      expiresAt: invitation.value.expiresAt,
    };
    this.pending = undefined;
    // The next merchant likely has the same terms: only its name and owner are cleared.
    for (const name of ['name', 'owner']) {
      const input = form.elements.namedItem(name);
      if (input instanceof HTMLInputElement) input.value = '';
    }
  }

  protected override render() {
    const { errors } = this;
    return html`<section aria-labelledby="onboarding-title" class="panel">
      <h2 id="onboarding-title">Add a merchant</h2>
      <p class="hint">
        Its owner gets an invitation link to set a password and run it in the dashboard.
      </p>
      ${failureNotice(this.failure)}
      ${
        this.invited === undefined
          ? nothing
          : html`<div class="notice" role="status" data-testid="invitation">
              <p>
                ${this.invited.name} was added. Send this link to ${this.invited.owner}; it works
                once, until ${new Date(this.invited.expiresAt).toLocaleString()}, and is not shown
                again:
              </p>
              <p><code data-testid="invitation-link">${this.invited.link}</code></p>
            </div>`
      }
      <form novalidate @submit=${(event: SubmitEvent) => void this.submit(event)}>
        ${field({ id: 'name', label: 'Merchant name', error: errors.name })}
        ${field({
          id: 'fee',
          label: 'Platform fee (%)',
          inputmode: 'decimal',
          value: '5',
          hint: 'Taken from each sale, e.g. 5 or 2.5.',
          error: errors.fee,
        })}
        ${field({
          id: 'threshold',
          label: 'Payout threshold',
          inputmode: 'decimal',
          value: '10.00',
          hint: 'Paid out once its balance passes this.',
          error: errors.threshold,
        })}
        ${field({
          id: 'owner',
          label: "Owner's email",
          type: 'email',
          autocomplete: 'off',
          error: errors.owner,
        })}
        <button type="submit" ?disabled=${this.busy}>
          ${this.busy ? 'Adding…' : 'Add and invite its owner'}
        </button>
      </form>
    </section>`;
  }
}

customElements.define('mite-merchant-onboarding', MerchantOnboarding);
