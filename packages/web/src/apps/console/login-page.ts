import { html } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import {
  type FieldErrors,
  focusFirstInvalid,
  type LogInField,
  logInFields,
  readLogIn,
} from '../shared/forms.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { sessionKeptProblem } from '../shared/session-kept.ts';
import { consolePaths, failureNotice } from './console-session.ts';
import '../shared/styles.css';
import './console.css';

/**
 * An operator logs in with email and password (`POST /v1/operator-sessions`); the platform
 * answers with the console's session cookie. The cookie is Secure, which browsers keep only from
 * https origins and the loopback: the page checks it was kept before going on.
 */
export class ConsoleLogInPage extends MiteElement {
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
    const result = await callApi('POST', '/v1/operator-sessions', { body: { email, password } });
    if (!result.ok) {
      this.busy = false;
      this.failure = describeProblem(result.problem);
      return;
    }
    const notKept = await sessionKeptProblem('/v1/operator-session');
    this.busy = false;
    if (notKept !== undefined) {
      this.failure = notKept;
      return;
    }
    window.location.assign(consolePaths.home);
  }

  protected override render() {
    return html`<h1>Log in to the operator console</h1>
      ${failureNotice(this.failure)}
      <form novalidate @submit=${this.submit} aria-label="Log in">
        ${logInFields(this.errors)}
        <div><button type="submit" ?disabled=${this.busy}>Log in</button></div>
      </form>
      <p class="hint">
        Operators are people the platform made at setup (or that another operator added). Programs
        use an admin key as a Bearer token instead.
      </p>`;
  }
}

customElements.define('mite-console-log-in-page', ConsoleLogInPage);
