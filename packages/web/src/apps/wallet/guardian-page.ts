import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { field, inputValue, looksLikeEmail } from '../shared/forms.ts';
import { MiteElement, walletPaths } from '../shared/mite-element.ts';
import './session.ts';
import '../shared/styles.css';

type ConsentState = 'requested' | 'granted' | 'withdrawn';

/** `GET /v1/users/me/birth-date`. */
interface MinorStatus {
  readonly declared: boolean;
  readonly minor: boolean;
  readonly guardianConsent: { id: string; state: ConsentState; at: string } | null;
}

/** `GET /v1/users/me/guardian-requests`: minors who named this user as guardian. */
interface GuardianRequest {
  readonly id: string;
  readonly minorEmail: string;
  readonly state: ConsentState;
  readonly requestedAt: string;
}

const consentWords: Readonly<Record<ConsentState, string>> = {
  requested: 'Asked: waiting for your guardian to answer.',
  granted: 'Granted: your guardian consented to your payments.',
  withdrawn: 'Withdrawn or declined: ask again, or ask someone else.',
};

/**
 * Age and guardians (on the platform: limits/minor-settings.ts): the birth date, declared once;
 * for a minor, asking a guardian for consent; for a guardian, the minors' requests to answer.
 */
export class GuardianPage extends MiteElement {
  static override properties = {
    status: { state: true },
    requests: { state: true },
    errors: { state: true },
    message: { state: true },
    granting: { state: true },
  };

  declare status: MinorStatus | undefined;
  declare requests: readonly GuardianRequest[];
  declare errors: Partial<Record<'birthDate' | 'guardianEmail' | 'grantPassword', string>>;
  declare message: { readonly text: string; readonly error: boolean } | undefined;
  /** The request whose grant asks for the password. */
  declare granting: string | undefined;

  constructor() {
    super();
    this.requests = [];
    this.errors = {};
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const status = await callApi<MinorStatus>('GET', '/v1/users/me/birth-date');
    if (!status.ok) {
      if (status.problem.status === 401) window.location.assign(walletPaths.logIn);
      else this.message = { text: describeProblem(status.problem), error: true };
      return;
    }
    this.status = status.value;
    const requests = await callApi<{ requests: GuardianRequest[] }>(
      'GET',
      '/v1/users/me/guardian-requests',
    );
    if (requests.ok) this.requests = requests.value.requests;
  }

  private async send(method: 'PUT' | 'POST', path: string, body: unknown, done: string) {
    const result = await callApi<unknown>(method, path, { body });
    if (result.ok) {
      this.message = { text: done, error: false };
      await this.load();
      return undefined;
    }
    return result.problem;
  }

  private async declare(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const birthDate = inputValue(event.currentTarget as HTMLFormElement, 'birthDate');
    this.errors = birthDate === '' ? { birthDate: 'Enter your birth date.' } : {};
    if (birthDate === '') return;
    const problem = await this.send('PUT', '/v1/users/me/birth-date', { birthDate }, 'Saved.');
    if (problem !== undefined) this.errors = { birthDate: describeProblem(problem) };
  }

  private async ask(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const guardianEmail = inputValue(event.currentTarget as HTMLFormElement, 'guardianEmail');
    const wrong = looksLikeEmail(guardianEmail) ? undefined : 'Enter their email address.';
    this.errors = wrong === undefined ? {} : { guardianEmail: wrong };
    if (wrong !== undefined) return;
    const path = '/v1/users/me/guardian-consent';
    const problem = await this.send('POST', path, { guardianEmail }, 'Asked.');
    if (problem !== undefined) this.errors = { guardianEmail: describeProblem(problem) };
  }

  private async grant(event: SubmitEvent, id: string): Promise<void> {
    event.preventDefault();
    const password = inputValue(event.currentTarget as HTMLFormElement, 'grantPassword');
    this.errors = password === '' ? { grantPassword: 'Enter your password.' } : {};
    if (password === '') return;
    const path = `/v1/users/me/guardian-requests/${id}/grant`;
    const problem = await this.send('POST', path, { password }, 'Consent granted.');
    if (problem === undefined) this.granting = undefined;
    else if (problem.slug === 'invalid-credentials') {
      this.errors = { grantPassword: 'The password is wrong.' };
    } else this.message = { text: describeProblem(problem), error: true };
  }

  private async withdraw(id: string): Promise<void> {
    const path = `/v1/users/me/guardian-requests/${id}/withdraw`;
    const problem = await this.send('POST', path, undefined, 'Consent withdrawn.');
    if (problem !== undefined) this.message = { text: describeProblem(problem), error: true };
  }

  protected override render() {
    const message = this.message;
    return html`<h1>Age and guardian</h1>
      ${
        message === undefined
          ? nothing
          : html`<p
              class=${message.error ? 'notice error' : 'notice success'}
              role=${message.error ? 'alert' : 'status'}
              data-testid="message"
            >
              ${message.text}
            </p>`
      }
      ${this.status === undefined ? html`<p role="status">Loading…</p>` : this.renderAge(this.status)}
      ${this.renderRequests()}
      <p><a href=${walletPaths.home}>Back to your wallet</a></p>`;
  }

  private renderAge(status: MinorStatus) {
    if (!status.declared) {
      return html`<h2>Your birth date</h2>
        <p>
          Under 19, payments need a guardian’s consent and a lower monthly cap applies. You declare
          your birth date once: it cannot be changed afterwards.
        </p>
        <form novalidate @submit=${this.declare} aria-label="Declare your birth date">
          ${field({ id: 'birthDate', label: 'Birth date', type: 'date', error: this.errors.birthDate })}
          <div><button type="submit">Declare birth date</button></div>
        </form>`;
    }
    if (!status.minor) {
      return html`<h2>Your birth date</h2>
        <p data-testid="age">You declared a birth date: you are an adult.</p>`;
    }
    const consent = status.guardianConsent;
    const open = consent !== null && consent.state !== 'withdrawn';
    return html`<h2>Your guardian</h2>
      <p data-testid="age">By the birth date you declared, you are under 19.</p>
      <p data-testid="consent">
        ${consent === null ? 'You have not asked a guardian yet.' : consentWords[consent.state]}
      </p>
      ${
        open
          ? nothing
          : html`<form novalidate @submit=${this.ask} aria-label="Ask a guardian">
              ${field({
                id: 'guardianEmail',
                label: 'Your guardian\u2019s email',
                type: 'email',
                hint: 'They need a Mite account, with their own birth date declared.',
                error: this.errors.guardianEmail,
              })}
              <div><button type="submit">Ask for consent</button></div>
            </form>`
      }`;
  }

  private renderRequests() {
    if (this.requests.length === 0) return nothing;
    return html`<h2>Minors who asked you</h2>
      <ul class="plain" data-testid="requests">
        ${this.requests.map(
          (request) =>
            html`<li>
              <p>
                ${request.minorEmail}:
                ${request.state === 'granted' ? 'you consented.' : 'asks for your consent.'}
              </p>
              ${
                request.state === 'requested' && this.granting === request.id
                  ? html`<form
                      novalidate
                      @submit=${(event: SubmitEvent) => this.grant(event, request.id)}
                      aria-label="Grant consent"
                    >
                      ${field({
                        id: 'grantPassword',
                        label: 'Your password',
                        type: 'password',
                        autocomplete: 'current-password',
                        error: this.errors.grantPassword,
                      })}
                      <div><button type="submit">Confirm consent</button></div>
                    </form>`
                  : nothing
              }
              ${
                request.state === 'requested' && this.granting !== request.id
                  ? html`<button type="button" @click=${() => (this.granting = request.id)}>
                      Grant
                    </button>`
                  : nothing
              }
              <button type="button" @click=${() => this.withdraw(request.id)}>
                ${request.state === 'granted' ? 'Withdraw consent' : 'Decline'}
              </button>
            </li>`,
        )}
      </ul>`;
  }
}

customElements.define('mite-guardian-page', GuardianPage);
