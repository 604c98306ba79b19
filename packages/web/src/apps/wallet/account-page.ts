import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, inputValue } from '../shared/forms.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import './session.ts';
import '../shared/styles.css';

/** `POST /v1/users/me/erasure`. */
interface Erased {
  readonly erasedAt: string;
  readonly unclaimed: string;
  readonly currency: string;
}

/** `GET /v1/wallet`: who is signed in, to say which account would be deleted. */
interface Wallet {
  readonly email: string;
  readonly balance: string;
}

type Stage =
  | { readonly kind: 'form' }
  | { readonly kind: 'deleting' }
  | { readonly kind: 'deleted'; readonly erased: Erased };

/**
 * "Delete my account": the password asked again and the consequences confirmed in a checkbox,
 * then the erasure (privacy/account-erasure.ts on the platform), which cannot be undone.
 */
export class AccountPage extends MiteElement {
  static override properties = {
    wallet: { state: true },
    stage: { state: true },
    failure: { state: true },
    passwordError: { state: true },
    confirmError: { state: true },
  };

  declare wallet: Wallet | undefined;
  declare stage: Stage;
  declare failure: string | undefined;
  declare passwordError: string | undefined;
  declare confirmError: string | undefined;

  constructor() {
    super();
    this.stage = { kind: 'form' };
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const result = await callApi<Wallet>('GET', '/v1/wallet');
    if (result.ok) this.wallet = result.value;
    else if (result.problem.status === 401) window.location.assign(walletPaths.logIn);
    else this.failure = describeProblem(result.problem);
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const password = inputValue(form, 'password');
    const confirmed = form.querySelector<HTMLInputElement>('#confirm-erasure')?.checked === true;
    this.failure = undefined;
    this.passwordError = password === '' ? 'Enter your password.' : undefined;
    this.confirmError = confirmed ? undefined : 'Tick the box to confirm.';
    if (this.passwordError !== undefined || this.confirmError !== undefined) return;
    this.stage = { kind: 'deleting' };
    const result = await callApi<Erased>('POST', '/v1/users/me/erasure', { body: { password } });
    if (result.ok) {
      this.stage = { kind: 'deleted', erased: result.value };
      return;
    }
    this.stage = { kind: 'form' };
    if (result.problem.slug === 'invalid-credentials')
      this.passwordError = 'The password is wrong.';
    else this.failure = describeProblem(result.problem);
  }

  protected override render() {
    if (this.stage.kind === 'deleted') return this.renderDeleted(this.stage.erased);
    return html`<h1>Your account</h1>
      ${
        this.wallet === undefined
          ? nothing
          : html`<p data-testid="account-email">Signed in as ${this.wallet.email}.</p>`
      }
      <h2>Delete my account</h2>
      <p>Deleting your account cannot be undone. It:</p>
      <ul>
        <li>
          destroys the key your email and your cards’ last digits are encrypted with, so that
          nobody, the platform included, can read them again, in backups too;
        </li>
        <li>signs you out everywhere, and your email and password no longer open anything;</li>
        <li>
          keeps the records the law requires (amounts, dates, accounts by number) and what sites
          know of your purchases, under a name they alone use for you, never your email.
        </li>
      </ul>
      <p>
        Your balance is yours: spend it first, or ask us to refund it to your card. Only less than a
        cent can be left behind; it is set aside for you rather than kept as income.
      </p>
      ${
        this.failure === undefined
          ? nothing
          : html`<p class="notice error" role="alert">${this.failure}</p>`
      }
      <form novalidate @submit=${this.submit} aria-label="Delete my account">
        ${field({
          id: 'password',
          label: 'Your password',
          type: 'password',
          autocomplete: 'current-password',
          error: this.passwordError,
        })}
        <div class="check">
          <input
            type="checkbox"
            id="confirm-erasure"
            aria-invalid=${this.confirmError === undefined ? 'false' : 'true'}
            aria-describedby=${this.confirmError === undefined ? nothing : 'confirm-error'}
          />
          <label for="confirm-erasure">I understand that my account is deleted for good.</label>
          ${
            this.confirmError === undefined
              ? nothing
              : html`<p class="field-error" id="confirm-error">${this.confirmError}</p>`
          }
        </div>
        <div>
          <button type="submit" ?disabled=${this.stage.kind === 'deleting'}>
            Delete my account
          </button>
        </div>
      </form>
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderDeleted(erased: Erased) {
    return html`<h1>Your account was deleted</h1>
      <p class="notice success" role="status" data-testid="erased">
        Deleted ${new Date(erased.erasedAt).toLocaleString()}. Your personal data can no longer be
        read, and you are signed out everywhere.
        ${
          /^0(\.0*)?$/.test(erased.unclaimed)
            ? nothing
            : html`${erased.unclaimed} ${erased.currency} was set aside for you as unclaimed.`
        }
      </p>
      <p><a href=${walletPaths.signUp}>Make a new account</a></p>`;
  }
}

customElements.define('mite-account-page', AccountPage);
