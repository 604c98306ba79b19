import { html } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  type FieldErrors,
  field,
  focusFirstInvalid,
  inputValue,
  looksLikeEmail,
} from '../shared/forms.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { passwordLengthMin, passwordProblem } from '../shared/passwords.ts';
import { sessionKeptProblem } from '../shared/session-kept.ts';
import '../shared/styles.css';

type SignUpField = 'email' | 'password' | 'confirm';

/** Sign up: a new user with an empty wallet, logged in at once. */
export class SignUpPage extends MiteElement {
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
    this.failure = undefined;
    this.busy = false;
  }

  private check(email: string, password: string, confirm: string): FieldErrors<SignUpField> {
    const errors: FieldErrors<SignUpField> = {};
    if (!looksLikeEmail(email)) errors.email = 'Enter an email address, like name@example.com.';
    const weak = passwordProblem(password);
    if (weak !== undefined) errors.password = weak;
    else if (confirm !== password) {
      errors.confirm = 'The two passwords differ.';
    }
    return errors;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const email = inputValue(form, 'email').trim();
    const password = inputValue(form, 'password');
    this.errors = this.check(email, password, inputValue(form, 'confirm'));
    this.failure = undefined;
    if (Object.keys(this.errors).length > 0) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.busy = true;
    const made = await callApi('POST', '/v1/users', { body: { email, password } });
    const session = made.ok
      ? await callApi('POST', '/v1/sessions', { body: { email, password } })
      : made;
    this.busy = false;
    if (!session.ok) {
      this.failure = describeProblem(session.problem);
      return;
    }
    const notKept = await sessionKeptProblem('/v1/wallet');
    if (notKept !== undefined) {
      this.failure = notKept;
      return;
    }
    window.location.assign(walletPaths.home);
  }

  protected override render() {
    return html`<h1>Create a wallet</h1>
      <p>
        Top up once, then pay a few cents at a time on any site that takes Mite, inside limits you
        set.
      </p>
      ${
        this.failure === undefined
          ? ''
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <form novalidate @submit=${this.submit} aria-label="Create a wallet">
        ${field({
          id: 'email',
          label: 'Email',
          type: 'email',
          autocomplete: 'username',
          error: this.errors.email,
        })}
        ${field({
          id: 'password',
          label: 'Password',
          type: 'password',
          autocomplete: 'new-password',
          hint: `At least ${passwordLengthMin} characters.`,
          error: this.errors.password,
        })}
        ${field({
          id: 'confirm',
          label: 'Password again',
          type: 'password',
          autocomplete: 'new-password',
          error: this.errors.confirm,
        })}
        <div><button type="submit" ?disabled=${this.busy}>Create my wallet</button></div>
      </form>
      <p>Have a wallet already? <a href=${walletPaths.logIn}>Log in</a>.</p>`;
  }
}

customElements.define('mite-sign-up-page', SignUpPage);
