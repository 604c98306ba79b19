import { html, nothing } from 'lit';
import { MiteElement } from '../shared/mite-element.ts';
import { dashboardPaths } from './dashboard-paths.ts';
import { type MerchantSession, merchantSession } from './merchant-session.ts';

/**
 * What the dashboard's screens share, apart from the shell (which they do not depend on): the
 * logged-in merchant, dates as people read them, and a secret shown once with a copy button.
 */

export type { MerchantSession };

export const dashboardLogInPath = dashboardPaths.logIn;

/**
 * The merchant this browser is logged in for, or a trip to the log-in page when the session is
 * missing or has ended. Other failures come back for the screen to show. The page's one read of
 * the session, shared with the shell (`merchant-session.ts`).
 */
export function loadMerchantSession(): Promise<MerchantSession | string> {
  return merchantSession();
}

/** A page of a list route. */
export interface Page<T> {
  readonly items: T[];
  readonly nextCursor: string | null;
}

/** The path of a list's next page after what is shown (`?limit=` is added here). */
export function pagePath(path: string, limit: number, shown: Page<unknown> | undefined): string {
  const cursor = shown?.nextCursor;
  const separator = path.includes('?') ? '&' : '?';
  const after = cursor == null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
  return `${path}${separator}limit=${limit}${after}`;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'short',
});

/** An ISO time as people read it, in their own time zone. */
export function when(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

/** A refusal or a failure to show: read out at once (role="alert"). */
export function alertOf(message: string | undefined) {
  return message === undefined
    ? nothing
    : html`<p class="notice error" role="alert">${message}</p>`;
}

/**
 * A secret the platform shows once (a new API key, a webhook signing secret): the value to
 * select, a button that copies it, and the warning that it is not shown again. The parent
 * forgets it when the person says it is saved.
 */
export class SecretOnce extends MiteElement {
  static override properties = {
    secret: { type: String },
    label: { type: String },
    copied: { state: true },
  };

  declare secret: string;
  declare label: string;
  declare copied: string | undefined;

  private async copy(): Promise<void> {
    try {
      await navigator.clipboard.writeText(this.secret);
      this.copied = 'Copied to the clipboard.';
    } catch {
      this.copied = 'The browser did not allow copying: select the text and copy it yourself.';
    }
  }

  protected override render() {
    return html`<div class="secret-once">
      <p><strong>${this.label}</strong> This is the only time it is shown: save it now.</p>
      <p><code class="secret" data-testid="secret">${this.secret}</code></p>
      <p>
        <button type="button" class="secondary" @click=${this.copy}>
          Copy<span class="visually-hidden"> ${this.label}</span>
        </button>
        <span role="status">${this.copied ?? ''}</span>
      </p>
    </div>`;
  }
}

customElements.define('mite-secret-once', SecretOnce);
