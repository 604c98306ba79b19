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
import { dashboardPaths } from './dashboard-paths.ts';
import { type Membership, roleNames } from './merchant-session.ts';
import { sessionKeptProblem } from '../shared/session-kept.ts';
import '../shared/styles.css';

/** `POST /v1/merchant-sessions`'s answer. */
interface LoggedIn {
  readonly merchantId: string;
  readonly merchants: readonly Membership[];
}

/**
 * Log in to the dashboard (`POST /v1/merchant-sessions`): the platform answers with the
 * dashboard's own session cookie, for the person's first merchant. A person who works for
 * several then chooses whose dashboard to open; another than the first is a log-in for it, after
 * the first session is ended.
 */
export class DashboardLogInPage extends MiteElement {
  static override properties = {
    errors: { state: true },
    failure: { state: true },
    busy: { state: true },
    choices: { state: true },
  };

  declare errors: FieldErrors<LogInField>;
  declare failure: string | undefined;
  declare busy: boolean;
  /** The merchants to choose from, once logged in to the first of several. */
  declare choices: readonly Membership[] | undefined;
  /** Kept only until a merchant is chosen, to log in to it. */
  private credentials: { email: string; password: string; merchantId: string } | undefined;

  constructor() {
    super();
    this.errors = {};
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
    const result = await callApi<LoggedIn>('POST', '/v1/merchant-sessions', {
      body: { email, password },
    });
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    const notKept = await sessionKeptProblem('/v1/merchant-session');
    if (notKept !== undefined) {
      this.failure = notKept;
      return;
    }
    if (result.value.merchants.length > 1) {
      this.credentials = { email, password, merchantId: result.value.merchantId };
      this.choices = result.value.merchants;
      return;
    }
    window.location.assign(dashboardPaths.home);
  }

  private async choose(merchantId: string): Promise<void> {
    const credentials = this.credentials;
    if (credentials === undefined || merchantId === credentials.merchantId) {
      window.location.assign(dashboardPaths.home);
      return;
    }
    this.busy = true;
    // The first merchant's session is not wanted: it ends rather than lingers until it expires.
    await callApi('DELETE', '/v1/merchant-sessions/current');
    const result = await callApi('POST', '/v1/merchant-sessions', {
      body: { email: credentials.email, password: credentials.password, merchantId },
    });
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      this.choices = undefined;
      this.credentials = undefined;
      return;
    }
    this.credentials = undefined;
    window.location.assign(dashboardPaths.home);
  }

  private renderChoices(choices: readonly Membership[]) {
    return html`<h1>Which merchant?</h1>
      <p>You work for several merchants: open the dashboard of</p>
      <ul class="choice-list">
        ${choices.map(
          (choice) =>
            html`<li>
              <button
                type="button"
                ?disabled=${this.busy}
                @click=${() => this.choose(choice.merchantId)}
              >
                ${choice.name}
              </button>
              <span class="hint">${roleNames[choice.role] ?? choice.role}</span>
            </li>`,
        )}
      </ul>`;
  }

  protected override render() {
    if (this.choices !== undefined) return this.renderChoices(this.choices);
    return html`<h1>Log in to your merchant dashboard</h1>
      ${
        this.failure === undefined
          ? ''
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <form novalidate @submit=${this.submit} aria-label="Log in">
        ${logInFields(this.errors)}
        <div><button type="submit" ?disabled=${this.busy}>Log in</button></div>
      </form>
      <p>Selling for the first time? <a href=${dashboardPaths.signUp}>Sign up as a merchant</a>.</p>
      <p>Invited to a merchant's team? Open the link in your invitation.</p>`;
  }
}

customElements.define('mite-dashboard-log-in-page', DashboardLogInPage);
