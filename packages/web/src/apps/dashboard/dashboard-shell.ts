import { css, html, LitElement, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';

/**
 * A minimal stand-in for the dashboard's frame (the real one is built beside the overview): the
 * header with the merchant's name, the screens' navigation and a log-out button, and the screen
 * itself as slotted content, so that the page's own stylesheet still styles the screen. On a
 * missing or ended session it goes to the log-in page.
 */
const screens = [
  ['overview', 'Overview', '/dashboard/'],
  ['payouts', 'Payouts', '/dashboard/payouts/'],
  ['keys', 'API keys', '/dashboard/keys/'],
  ['webhooks', 'Webhooks', '/dashboard/webhooks/'],
  ['fees', 'Fees', '/dashboard/fees/'],
] as const;

const logInPath = '/dashboard/login/';

export class DashboardShell extends LitElement {
  static override properties = {
    current: { type: String },
    merchantName: { state: true },
    failure: { state: true },
  };

  static override styles = css`
    :host {
      display: block;
    }
    header {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      justify-content: space-between;
      gap: 0.5rem 1rem;
      padding: 0.75rem 1rem;
      border-bottom: 1px solid #c9c9d1;
    }
    .brand {
      font-weight: 700;
    }
    ul {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 0.25rem 1rem;
      list-style: none;
      margin: 0;
      padding: 0;
    }
    a {
      color: #1f4fb8;
    }
    a[aria-current='page'] {
      font-weight: 700;
      color: #1c1c1e;
    }
    button {
      font: inherit;
      font-weight: 600;
      padding: 0.4rem 0.9rem;
      border-radius: 6px;
      border: 1px solid #1f4fb8;
      background: #ffffff;
      color: #1f4fb8;
      cursor: pointer;
    }
    :focus-visible {
      outline: 3px solid #1f4fb8;
      outline-offset: 2px;
    }
    main {
      max-width: 60rem;
      margin: 0 auto;
      padding: 1rem;
    }
    .error {
      color: #a3161c;
    }
  `;

  declare current: string;
  declare merchantName: string | undefined;
  declare failure: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const session = await callApi<{ merchantName: string }>('GET', '/v1/merchant-session');
    if (session.ok) this.merchantName = session.value.merchantName;
    else if (session.problem.status === 401) window.location.assign(logInPath);
    else this.failure = describeProblem(session.problem);
  }

  private async logOut(): Promise<void> {
    const result = await callApi('DELETE', '/v1/merchant-sessions/current');
    if (!result.ok && result.problem.status !== 401) {
      this.failure = describeProblem(result.problem);
      return;
    }
    window.location.assign(logInPath);
  }

  protected override render() {
    return html`<header>
        <span class="brand">${this.merchantName ?? 'Mite dashboard'}</span>
        <nav aria-label="Dashboard">
          <ul>
            ${screens.map(
              ([name, label, href]) =>
                html`<li>
                  <a href=${href} aria-current=${this.current === name ? 'page' : nothing}
                    >${label}</a
                  >
                </li>`,
            )}
            <li><button type="button" @click=${this.logOut}>Log out</button></li>
          </ul>
        </nav>
      </header>
      <main id="main">
        ${this.failure === undefined ? nothing : html`<p class="error" role="alert">${this.failure}</p>`}
        <slot></slot>
      </main>`;
  }
}

customElements.define('mite-dashboard-shell', DashboardShell);
