import { html, nothing } from 'lit';
import { MiteElement } from '../shared/mite-element.ts';
import { showAmount } from '../shared/money.ts';
import {
  keepFloat,
  privacyModeOn,
  setPrivacyMode,
  tokenFloat,
  tokenFloatMicros,
} from '../shared/token-wallet.ts';
import { formatAmount } from '@mite/protocol';

/** Sent when a refill withdrew tokens, which moved money out of the wallet. */
export const tokensWithdrawnEvent = 'tokens-withdrawn';

/**
 * The wallet's "Privacy mode: pay with tokens" setting and the float of tokens it keeps in this
 * browser. Opening the wallet with privacy mode on tops the float up: that is when tokens are
 * withdrawn, never at a purchase.
 */
export class PrivacyModeSetting extends MiteElement {
  static override properties = {
    on: { state: true },
    floatMicros: { state: true },
    status: { state: true },
    failure: { state: true },
  };

  declare on: boolean;
  declare floatMicros: bigint | undefined;
  declare status: string | undefined;
  declare failure: string | undefined;

  constructor() {
    super();
    this.on = privacyModeOn();
    this.floatMicros = undefined;
    this.status = undefined;
    this.failure = undefined;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.#refresh(this.on);
  }

  /** Reads the float and, in privacy mode, withdraws batches until it is held. */
  async #refresh(fill: boolean): Promise<void> {
    this.floatMicros = await tokenFloat();
    if (!fill) return;
    try {
      const withdrawn = await keepFloat();
      if (withdrawn > 0n) {
        this.status = `Withdrew ${showAmount(formatAmount(withdrawn))} as tokens.`;
        // The wallet's balance and movements changed: the page shows them again.
        this.dispatchEvent(
          new CustomEvent(tokensWithdrawnEvent, { bubbles: true, composed: true }),
        );
      }
      this.failure = undefined;
    } catch (error) {
      this.failure = `Tokens could not be withdrawn: ${error instanceof Error ? error.message : String(error)}`;
    }
    this.floatMicros = await tokenFloat();
  }

  private async toggle(event: Event): Promise<void> {
    this.on = (event.currentTarget as HTMLInputElement).checked;
    setPrivacyMode(this.on);
    this.status = this.on ? 'Privacy mode is on.' : 'Privacy mode is off.';
    await this.#refresh(this.on);
  }

  protected override render() {
    const float = this.floatMicros;
    return html`<h2 id="privacy-heading">Privacy mode</h2>
      <p class="check">
        <input
          type="checkbox"
          id="privacy-mode"
          .checked=${this.on}
          @change=${this.toggle}
          aria-describedby="privacy-hint"
        />
        <label for="privacy-mode">Privacy mode: pay with tokens</label>
        <span class="hint" id="privacy-hint">
          Sites that take tokens are paid with tokens this browser holds, which the platform signed
          without seeing them: it cannot tell what you bought. Those purchases are not in your
          history below; the withdrawals of tokens are. This browser keeps about
          ${showAmount(formatAmount(tokenFloatMicros))} in tokens, withdrawn when you open the
          wallet.
        </span>
      </p>
      <p data-testid="token-float">
        Tokens held in this browser: ${float === undefined ? '…' : showAmount(formatAmount(float))}
      </p>
      ${this.status === undefined ? nothing : html`<p class="notice success" role="status">${this.status}</p>`}
      ${this.failure === undefined ? nothing : html`<p class="notice error" role="alert">${this.failure}</p>`}`;
  }
}

customElements.define('mite-privacy-mode', PrivacyModeSetting);
