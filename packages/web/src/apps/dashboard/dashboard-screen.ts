import type { PropertyDeclarations } from 'lit';
import { MiteElement } from '../shared/mite-element.ts';
import { type MerchantSession, merchantSession } from './merchant-session.ts';

/**
 * A screen inside the dashboard's shell: it loads once with the page's session (the shell moves
 * it into its `<main>`, which disconnects and connects it again, and must not load it twice).
 */
export abstract class DashboardScreenElement extends MiteElement {
  // Typed as any declarations, so that each screen declares its own beside this one.
  static override properties: PropertyDeclarations = {
    session: { state: true },
  };

  declare session: MerchantSession | undefined;
  private started = false;

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.started) return;
    this.started = true;
    void merchantSession().then((session) => {
      if (typeof session === 'string') return; // The shell shows why.
      this.session = session;
      return this.load(session);
    });
  }

  /** Reads what the screen shows, once the session is known. */
  protected abstract load(session: MerchantSession): Promise<void>;
}
