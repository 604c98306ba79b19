import { html, nothing } from 'lit';
import { callApi, describeProblem } from '../shared/api.ts';
import { MiteElement } from '../shared/mite-element.ts';
import { dashboardPaths, dashboardScreens } from './dashboard-paths.ts';
import { type MerchantSession, merchantSession, roleNames } from './merchant-session.ts';
import '../shared/styles.css';

/**
 * Every dashboard screen's frame: a skip link, a header with the merchant's name and the
 * person's role, a navigation listing every screen (the `current` one marked for screen readers
 * with aria-current), a log-out button, and the screen itself, which is the element's content:
 *
 *     <mite-dashboard-shell current="payments">
 *       <mite-payments-page></mite-payments-page>
 *     </mite-dashboard-shell>
 *
 * The shell renders into the light DOM like every element of the apps (one stylesheet, one tree
 * for screen readers), which has no slots: it takes the children it was given and places them
 * in its `<main>`. It reads `GET /v1/merchant-session` (shared with the screen through
 * `merchantSession()`) and sends the browser to the log-in page on 401.
 */
export class DashboardShell extends MiteElement {
  static override properties = {
    current: { type: String },
    session: { state: true },
    failure: { state: true },
  };

  declare current: string;
  declare session: MerchantSession | undefined;
  declare failure: string | undefined;

  /** The screen, as written inside the element in the page. */
  private screen: Node[] | undefined;

  constructor() {
    super();
    this.current = '';
  }

  override connectedCallback(): void {
    // Taken before the first render, which would otherwise leave them above the header.
    if (this.screen === undefined) {
      this.screen = [...this.childNodes];
      for (const node of this.screen) this.removeChild(node);
    }
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    const session = await merchantSession();
    if (typeof session === 'string') this.failure = session;
    else this.session = session;
  }

  private async logOut(): Promise<void> {
    const result = await callApi('DELETE', '/v1/merchant-sessions/current');
    // A session that had ended already is logged out all the same.
    if (!result.ok && result.problem.status !== 401) {
      this.failure = describeProblem(result.problem);
      return;
    }
    window.location.assign(dashboardPaths.logIn);
  }

  protected override render() {
    return html`<a class="skip-link" href="#main">Skip to content</a>
      <header class="site dashboard-header">
        <div class="dashboard-who">
          <a class="brand" href=${dashboardPaths.home}>Mite dashboard</a>
          ${this.renderWho()}
        </div>
        <button type="button" class="secondary" @click=${this.logOut}>Log out</button>
        <nav aria-label="Dashboard" class="dashboard-nav">
          <ul>
            ${dashboardScreens
              .filter((screen) => this.mayRead(screen))
              .map(
                (screen) =>
                  html`<li>
                    <a
                      href=${screen.path}
                      aria-current=${screen.key === this.current ? 'page' : nothing}
                      >${screen.label}</a
                    >
                  </li>`,
              )}
            ${this.renderMembersLink()}
          </ul>
        </nav>
      </header>
      <main id="main" tabindex="-1">
        ${
          this.failure === undefined
            ? nothing
            : html`<p class="notice error" role="alert">${this.failure}</p>`
        }
        ${this.screen}
      </main>`;
  }

  /** Whether the screen's link shows: it names no scope, or the session holds it. */
  private mayRead(screen: (typeof dashboardScreens)[number]): boolean {
    if (!('scope' in screen)) return true;
    return this.session?.scopes.includes(screen.scope) === true;
  }

  private renderWho() {
    const session = this.session;
    if (session === undefined) return nothing;
    return html`<p class="hint" data-testid="merchant">
      <strong class="merchant-name">${session.merchantName}</strong>
      · ${roleNames[session.role] ?? session.role} · ${session.email}
      ${
        session.merchants.length > 1
          ? html`· <a href=${dashboardPaths.logIn}>Switch merchant</a>`
          : nothing
      }
    </p>`;
  }

  /**
   * The team's screen, beside the others: every person may read it (`members:read`), only owners
   * change it; the link shows only to sessions that may read it.
   */
  private renderMembersLink() {
    if (this.session?.scopes.includes('members:read') !== true) return nothing;
    return html`<li>
      <a
        href=${dashboardPaths.members}
        aria-current=${this.current === 'members' ? 'page' : nothing}
        >Members</a
      >
    </li>`;
  }
}

customElements.define('mite-dashboard-shell', DashboardShell);
