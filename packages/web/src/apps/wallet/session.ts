import { html } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';

/** `GET /v1/wallet`. */
export interface Wallet {
  readonly userId: string;
  readonly email: string;
  readonly balance: string;
  readonly reserved: string;
  readonly currency: string;
}

/**
 * The logged-in user's wallet, or a trip to the log-in page when the session is missing or has
 * ended. Other failures come back for the page to show.
 */
export async function loadWallet(): Promise<Wallet | string> {
  const result = await callApi<Wallet>('GET', '/v1/wallet');
  if (result.ok) return result.value;
  if (result.problem.status === 401) {
    window.location.assign(walletPaths.logIn);
    return 'Your session has ended: log in again.';
  }
  return describeProblem(result.problem);
}

/** The log-out button in the header: ends the session on the platform, then goes to log in. */
export class LogOutButton extends MiteElement {
  static override properties = { failure: { state: true } };
  declare failure: string | undefined;

  private async logOut(): Promise<void> {
    const result = await callApi('DELETE', '/v1/sessions/current');
    // A session that had ended already is logged out all the same.
    if (!result.ok && result.problem.status !== 401) {
      this.failure = describeProblem(result.problem);
      return;
    }
    window.location.assign(walletPaths.logIn);
  }

  protected override render() {
    return html`<button type="button" class="secondary" @click=${this.logOut}>Log out</button>
      ${this.failure === undefined ? '' : html`<span role="alert">${this.failure}</span>`}`;
  }
}

customElements.define('mite-log-out', LogOutButton);

/**
 * Ends every session of this wallet, on every device, this browser's included (`DELETE
 * /v1/sessions`), then goes to log in.
 */
export class LogOutEverywhereButton extends MiteElement {
  static override properties = { failure: { state: true }, busy: { state: true } };
  declare failure: string | undefined;
  declare busy: boolean;

  constructor() {
    super();
    this.busy = false;
  }

  private async logOutEverywhere(): Promise<void> {
    this.busy = true;
    const result = await callApi('DELETE', '/v1/sessions');
    this.busy = false;
    if (!result.ok && result.problem.status !== 401) {
      this.failure = describeProblem(result.problem);
      return;
    }
    window.location.assign(walletPaths.logIn);
  }

  protected override render() {
    return html`<button
        type="button"
        class="secondary"
        ?disabled=${this.busy}
        @click=${this.logOutEverywhere}
      >
        Log out everywhere
      </button>
      ${
        this.failure === undefined
          ? ''
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }`;
  }
}

customElements.define('mite-log-out-everywhere', LogOutEverywhereButton);
