import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, inputValue } from '../shared/forms.ts';
import { MiteElement } from '../shared/mite-element.ts';

/** `GET /v1/users/me/limits`'s `account`, and `POST /v1/users/me/reactivation`'s answer. */
export interface AccountStanding {
  readonly dormant: boolean;
  readonly lastActiveAt: string;
  readonly reactivatedAt: string | null;
}

/**
 * The notice of a dormant account (unused for a year: payments are refused), with the password
 * field that re-enables it. Shows nothing while the account is active.
 */
export class DormantNotice extends MiteElement {
  static override properties = {
    standing: { state: true },
    passwordError: { state: true },
    failure: { state: true },
    woken: { state: true },
  };

  declare standing: AccountStanding | undefined;
  declare passwordError: string | undefined;
  declare failure: string | undefined;
  declare woken: boolean;

  constructor() {
    super();
    this.woken = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const result = await callApi<{ account: AccountStanding }>('GET', '/v1/users/me/limits');
    if (result.ok) this.standing = result.value.account;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const password = inputValue(event.currentTarget as HTMLFormElement, 'reactivation-password');
    this.failure = undefined;
    this.passwordError = password === '' ? 'Enter your password.' : undefined;
    if (this.passwordError !== undefined) return;
    const result = await callApi<AccountStanding>('POST', '/v1/users/me/reactivation', {
      body: { password },
    });
    if (result.ok) {
      this.standing = result.value;
      this.woken = true;
      this.dispatchEvent(new CustomEvent('mite-reactivated', { bubbles: true }));
    } else if (result.problem.slug === 'invalid-credentials') {
      this.passwordError = 'The password is wrong.';
    } else this.failure = describeProblem(result.problem);
  }

  protected override render() {
    if (this.woken) {
      return html`<p class="notice success" role="status" data-testid="reactivated">
        Your account is enabled again: you can pay and top up.
      </p>`;
    }
    if (this.standing?.dormant !== true) return nothing;
    return html`<section class="notice error" aria-labelledby="dormant-title" data-testid="dormant">
      <h2 id="dormant-title">Your account is dormant</h2>
      <p>
        It was not used for a year (last
        ${new Date(this.standing.lastActiveAt).toLocaleDateString()}), so payments and top-ups are
        refused until you enable it again with your password.
      </p>
      ${this.failure === undefined ? nothing : html`<p role="alert">${this.failure}</p>`}
      <form novalidate @submit=${this.submit} aria-label="Enable my account again">
        ${field({
          id: 'reactivation-password',
          label: 'Your password',
          type: 'password',
          autocomplete: 'current-password',
          error: this.passwordError,
        })}
        <div><button type="submit">Enable my account</button></div>
      </form>
    </section>`;
  }
}

customElements.define('mite-dormant-notice', DormantNotice);
