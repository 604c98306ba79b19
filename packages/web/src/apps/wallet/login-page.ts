import { html } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  type FieldErrors,
  focusFirstInvalid,
  type LogInField,
  logInFields,
  readLogIn,
} from '../shared/forms.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import { sessionKeptProblem } from '../shared/session-kept.ts';
import '../shared/styles.css';

/** Log in: email and password; the platform answers with a session cookie. */
export class LogInPage extends MiteElement {
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
    this.failure = undefined;
    this.busy = false;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const { email, password, errors } = readLogIn(form);
    this.errors = errors;
    this.failure = undefined;
    if (Object.keys(errors).length > 0) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.busy = true;
    const result = await callApi('POST', '/v1/sessions', { body: { email, password } });
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
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
    return html`<h1>Log in to your wallet</h1>
      ${
        this.failure === undefined
          ? ''
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <form novalidate @submit=${this.submit} aria-label="Log in">
        ${logInFields(this.errors)}
        <div><button type="submit" ?disabled=${this.busy}>Log in</button></div>
      </form>
      <p>New here? <a href=${walletPaths.signUp}>Create a wallet</a>.</p>`;
  }
}

customElements.define('mite-log-in-page', LogInPage);
