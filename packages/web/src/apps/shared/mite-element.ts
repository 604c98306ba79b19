import { LitElement } from 'lit';

/**
 * A Lit element rendered into the light DOM: the page's one stylesheet styles it, and labels and
 * their fields share a tree, so screen readers and the browser's form features see them whole.
 */
export class MiteElement extends LitElement {
  protected override createRenderRoot(): HTMLElement {
    return this;
  }
}

/** Where a page goes to log in, and where it goes once logged in. */
export const walletPaths = {
  home: '/wallet/',
  logIn: '/wallet/login/',
  signUp: '/wallet/signup/',
  topUp: '/wallet/topup/',
  budget: '/wallet/budget/',
  consents: '/wallet/consents/',
  /** Streaming and metered payments: running, stopping, settled. */
  sessions: '/wallet/sessions/',
  /** The user's own spending limits, and re-enabling a dormant account. */
  limits: '/wallet/limits/',
  /** The birth date, a minor's guardian, and the requests of minors who named this user. */
  guardian: '/wallet/guardian/',
  /** What the platform keeps and for how long, and the export. */
  data: '/wallet/data/',
  /** Followed by `?payment=<payment id>`. */
  receipt: '/wallet/receipt/',
} as const;
