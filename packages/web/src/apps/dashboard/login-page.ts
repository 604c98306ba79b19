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
import { sessionKeptProblem } from './session-kept.ts';
import '../shared/styles.css';

type LogInField = 'email' | 'password';

/**
 * Log in to the dashboard (`POST /v1/merchant-sessions`): the platform answers with the
 * dashboard's own session cookie, for the person's first merchant.
 */
export class DashboardLogInPage extends MiteElement {
  static override properties = {
    errors: { state: true },
    failure: { state: true },
    busy: { state: true },
  };

  declare errors: FieldErrors<LogInField>;
  declare failure: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const email = inputValue(form, 'email').trim();
    const password = inputValue(form, 'password');
    const errors: FieldErrors<LogInField> = {};
    if (!looksLikeEmail(email)) errors.email = 'Enter your email address, like name@example.com.';
    if (password === '') errors.password = 'Enter your password.';
    this.errors = errors;
    this.failure = undefined;
    if (Object.keys(errors).length > 0) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.busy = true;
    const result = await callApi('POST', '/v1/merchant-sessions', { body: { email, password } });
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    const notKept = await sessionKeptProblem();
    if (notKept !== undefined) {
      this.failure = notKept;
      return;
    }
    window.location.assign(dashboardPaths.home);
  }

  protected override render() {
    return html`<h1>Log in to your merchant dashboard</h1>
      ${
        this.failure === undefined
          ? ''
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <form novalidate @submit=${this.submit} aria-label="Log in">
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
          autocomplete: 'current-password',
          error: this.errors.password,
        })}
        <div><button type="submit" ?disabled=${this.busy}>Log in</button></div>
      </form>
      <p>Selling for the first time? <a href=${dashboardPaths.signUp}>Sign up as a merchant</a>.</p>
      <p>Invited to a merchant's team? Open the link in your invitation.</p>`;
  }
}

customElements.define('mite-dashboard-log-in-page', DashboardLogInPage);
