import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { type FieldErrors, field, focusFirstInvalid, inputValue } from '../shared/forms.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { dashboardPaths } from './dashboard-paths.ts';
import { type MerchantRole, roleNames } from './merchant-session.ts';
import { passwordLengthMin, passwordProblem } from '../shared/passwords.ts';
import '../shared/styles.css';

type AcceptField = 'password' | 'confirm';

/** The invitation's token, from the link's fragment (`#token=...`), which no server sees. */
function tokenOfFragment(hash: string): string | undefined {
  const token = new URLSearchParams(hash.replace(/^#/, '')).get('token');
  return token === null || token === '' ? undefined : token;
}

/**
 * Accept an invitation to a merchant's team (`POST /v1/merchant-invitations/accept`): a person
 * new to Mite chooses a password; one with an account gives its password.
 */
export class DashboardAcceptPage extends MiteElement {
  static override properties = {
    errors: { state: true },
    failure: { state: true },
    busy: { state: true },
    joined: { state: true },
  };

  declare errors: FieldErrors<AcceptField>;
  declare failure: string | undefined;
  declare busy: boolean;
  declare joined: MerchantRole | undefined;
  private readonly token = tokenOfFragment(window.location.hash);

  constructor() {
    super();
    this.errors = {};
    this.busy = false;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const password = inputValue(form, 'password');
    const errors: FieldErrors<AcceptField> = {};
    const weak = passwordProblem(password);
    if (weak !== undefined) errors.password = weak;
    else if (inputValue(form, 'confirm') !== password) errors.confirm = 'The two passwords differ.';
    this.errors = errors;
    this.failure = undefined;
    if (Object.keys(errors).length > 0 || this.token === undefined) {
      await this.updateComplete;
      focusFirstInvalid(form);
      return;
    }
    this.busy = true;
    const result = await callApi<{ role: MerchantRole }>(
      'POST',
      '/v1/merchant-invitations/accept',
      {
        body: { token: this.token, password },
      },
    );
    this.busy = false;
    if (!result.ok) {
      this.failure = describeProblem(result.problem);
      return;
    }
    this.joined = result.value.role;
    // The token is spent: keep it out of the address bar and the history.
    history.replaceState(null, '', dashboardPaths.accept);
  }

  protected override render() {
    if (this.joined !== undefined) {
      return html`<h1>Invitation accepted</h1>
        <p class="notice success" role="status">
          You joined the merchant's team as ${roleNames[this.joined] ?? this.joined}.
        </p>
        <p><a class="button" href=${dashboardPaths.logIn}>Log in to the dashboard</a></p>`;
    }
    if (this.token === undefined) {
      return html`<h1>Accept an invitation</h1>
        <p class="notice error" role="alert">
          This link holds no invitation. Open the whole link from your invitation, or ask for a new
          one.
        </p>`;
    }
    return html`<h1>Accept an invitation</h1>
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}
      <form novalidate @submit=${this.submit} aria-label="Accept the invitation">
        ${field({
          id: 'password',
          label: 'Password',
          type: 'password',
          autocomplete: 'new-password',
          hint:
            `New to Mite: choose one, at least ${passwordLengthMin} characters. Have a Mite ` +
            'account with the invited email already: give its password.',
          error: this.errors.password,
        })}
        ${field({
          id: 'confirm',
          label: 'Password again',
          type: 'password',
          autocomplete: 'new-password',
          error: this.errors.confirm,
        })}
        <div><button type="submit" ?disabled=${this.busy}>Join the team</button></div>
      </form>`;
  }
}

customElements.define('mite-dashboard-accept-page', DashboardAcceptPage);
