import { html } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  type FieldErrors,
  field,
  focusFirstInvalid,
  inputValue,
  looksLikeEmail,
} from '../shared/forms.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { dashboardPaths } from './dashboard-paths.ts';
import { passwordLengthMin, passwordProblem } from '../shared/passwords.ts';
import { sessionKeptProblem } from '../shared/session-kept.ts';
import '../shared/styles.css';

type SignUpField = 'merchantName' | 'email' | 'password' | 'confirm';

/** The longest merchant name the platform takes (merchant-routes.ts). */
const merchantNameLengthMax = 200;

/**
 * Sign up as a merchant (`POST /v1/merchant-signups`): a new merchant whose owner is the person
 * signing up, then a log-in to its dashboard. A person who has an account already (a wallet)
 * signs up with that account's password and the merchant is added to it.
 */
export class DashboardSignUpPage extends MiteElement {
  static override properties = {
    errors: { state: true },
    failure: { state: true },
    busy: { state: true },
  };

  declare errors: FieldErrors<SignUpField>;
  declare failure: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  private check(form: HTMLFormElement): FieldErrors<SignUpField> {
    const errors: FieldErrors<SignUpField> = {};
    const merchantName = inputValue(form, 'merchantName').trim();
    if (merchantName === '') errors.merchantName = 'Enter the name buyers will see.';
    else if (merchantName.length > merchantNameLengthMax) {
      errors.merchantName = `Use at most ${merchantNameLengthMax} characters.`;
    }
    if (!looksLikeEmail(inputValue(form, 'email'))) {
      errors.email = 'Enter an email address, like name@example.com.';
    }
    const password = inputValue(form, 'password');
    const weak = passwordProblem(password);
    if (weak !== undefined) errors.password = weak;
    else if (inputValue(form, 'confirm') !== password) errors.confirm = 'The two passwords differ.';
    return errors;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    this.errors = this.check(form);
    this.failure = undefined;
    if (Object.keys(this.errors).length > 0) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    const merchantName = inputValue(form, 'merchantName').trim();
    const email = inputValue(form, 'email').trim();
    const password = inputValue(form, 'password');
    this.busy = true;
    const made = await callApi<{ merchantId: string }>('POST', '/v1/merchant-signups', {
      body: { email, password, merchantName },
    });
    const session = made.ok
      ? await callApi('POST', '/v1/merchant-sessions', {
          body: { email, password, merchantId: made.value.merchantId },
        })
      : made;
    this.busy = false;
    if (!session.ok) {
      this.failure = describeProblem(session.problem);
      return;
    }
    const notKept = await sessionKeptProblem('/v1/merchant-session');
    if (notKept !== undefined) {
      this.failure = notKept;
      return;
    }
    window.location.assign(dashboardPaths.home);
  }

  protected override render() {
    return html`<h1>Sign up as a merchant</h1>
      <p>
        Sell articles, plays, API calls or tips for a few cents each, and get paid in aggregated
        payouts.
      </p>
      ${
        this.failure === undefined
          ? ''
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <form novalidate @submit=${this.submit} aria-label="Sign up as a merchant">
        ${field({
          id: 'merchantName',
          label: 'Merchant name',
          autocomplete: 'organization',
          hint: 'Buyers see it when they pay you.',
          error: this.errors.merchantName,
        })}
        ${field({
          id: 'email',
          label: 'Your email',
          type: 'email',
          autocomplete: 'username',
          error: this.errors.email,
        })}
        ${field({
          id: 'password',
          label: 'Password',
          type: 'password',
          autocomplete: 'new-password',
          hint:
            `At least ${passwordLengthMin} characters. If this email has a Mite account ` +
            'already (a wallet), use its password: the merchant is added to that account.',
          error: this.errors.password,
        })}
        ${field({
          id: 'confirm',
          label: 'Password again',
          type: 'password',
          autocomplete: 'new-password',
          error: this.errors.confirm,
        })}
        <div><button type="submit" ?disabled=${this.busy}>Sign up</button></div>
      </form>
      <p>Have a dashboard already? <a href=${dashboardPaths.logIn}>Log in</a>.</p>`;
  }
}

customElements.define('mite-dashboard-sign-up-page', DashboardSignUpPage);
