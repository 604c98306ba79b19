import { html, nothing } from 'lit';
import {
  type MeterElementMessage,
  meterMessageTypes,
  type MeterWindowMessage,
} from '../../paywall/meter-messages.ts';
import { messageText, messageType } from '../../paywall/pay-messages.ts';
import { callApi, describeProblem } from '../../shared/api.ts';
import { MiteElement } from '../../shared/mite-element.ts';
import { showAmount } from '../../shared/money.ts';
import type { PaymentSessionView } from '../../shared/payment-sessions.ts';
import { checkBudget } from '../pay-budget.ts';
import { askingOriginOf, showMicros } from '../pay-checks.ts';
import { logInView, logInWith, payButtonDelayMs } from '../pay-login.ts';
import { SessionPayer } from './session-payer.ts';
import {
  checkSessionOffer,
  payableAtMs,
  secondsNeeded,
  type SessionOffer,
} from './session-terms.ts';
import '../../shared/styles.css';
import '../pay.css';

/** How often the window looks whether the site's page is still there while it pays. */
const openerWatchMs = 2_000;
/** How often, and how long at most, the window reads a stopped session until it is settled. */
const settledPollMs = 500;
const settledWaitMs = 30_000;

type Stage = 'alone' | 'waiting' | 'login' | 'review' | 'opening' | 'playing' | 'stopped';

/**
 * The session window (`/pay/session/`), opened by a site's `<mite-meter>` player: it takes one
 * session challenge from its opener at the origin named in `?origin=`, checks it
 * (session-terms.ts) and the user's budget against the deposit, and shows the price per second
 * and what is held. On the person's click it opens the session and then pays the site's stream
 * second by second, at the pace of the clock, showing the running cost, until Stop (here or on
 * the site), the end of the stream, or this window closing; then it shows what was settled.
 * meter-messages.ts describes the exchange.
 */
export class PaySessionPage extends MiteElement {
  static override properties = {
    stage: { state: true },
    offer: { state: true },
    merchant: { state: true },
    balance: { state: true },
    failure: { state: true },
    ready: { state: true },
    paidMicros: { state: true },
    settled: { state: true },
    stopReason: { state: true },
  };

  declare stage: Stage;
  declare offer: SessionOffer | undefined;
  declare merchant: string;
  declare balance: string;
  declare failure: string | undefined;
  declare ready: boolean;
  declare paidMicros: bigint;
  /** Once stopped: the session as the platform settled it, when it has. */
  declare settled: PaymentSessionView | undefined;
  /** Why the window stopped paying, once it has. */
  declare stopReason: string | undefined;
  readonly #askingOrigin = askingOriginOf(new URLSearchParams(location.search).get('origin'));
  #payer: SessionPayer | undefined;
  #startMs = 0;
  /** The seconds the stream asked for and not yet paid, and the timer that pays them. */
  #wantedSeconds = 0n;
  #paceTimer: ReturnType<typeof setTimeout> | undefined;
  #paying = false;

  constructor() {
    super();
    this.stage = 'waiting';
    this.offer = undefined;
    this.merchant = '';
    this.balance = '';
    this.failure = undefined;
    this.ready = false;
    this.paidMicros = 0n;
    this.settled = undefined;
    this.stopReason = undefined;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.#askingOrigin === undefined || window.opener === null) {
      this.stage = 'alone';
      return;
    }
    window.addEventListener('message', this.#onMessage);
    window.addEventListener('pagehide', this.#onLeave);
    this.#send({ type: meterMessageTypes.ready });
  }

  #send(message: MeterWindowMessage): void {
    if (this.#askingOrigin === undefined) return;
    (window.opener as Window | null)?.postMessage(message, this.#askingOrigin);
  }

  readonly #onMessage = (event: MessageEvent): void => {
    if (event.source !== window.opener || event.origin !== this.#askingOrigin) return;
    const data = event.data as MeterElementMessage;
    const type = messageType(data);
    if (type === meterMessageTypes.challenge && this.offer === undefined) {
      const header = messageText(data, 'header');
      if (header !== undefined) void this.#consider(header);
    } else if (type === meterMessageTypes.need && this.stage === 'playing') {
      const need = messageText(data, 'data');
      if (need !== undefined) this.#needed(need);
    } else if (type === meterMessageTypes.stop) {
      void this.#stop('The site stopped the stream.');
    }
  };

  /** The window closing stops the session: the site hears it, the platform is told. */
  readonly #onLeave = (): void => {
    if (this.stage === 'playing' || this.stage === 'opening') {
      void this.#stop('The payment window was closed.', true);
    }
  };

  #refuse(reason: string): void {
    this.failure = reason;
    this.#send({ type: meterMessageTypes.refused, reason });
  }

  async #consider(header: string): Promise<void> {
    const checked = checkSessionOffer(header, {
      askingOrigin: this.#askingOrigin ?? '',
      platformOrigin: location.origin,
      nowSeconds: Math.floor(Date.now() / 1000),
    });
    if (!checked.ok) {
      this.stage = 'review';
      return this.#refuse(checked.reason);
    }
    this.offer = checked.value;
    await this.#review();
  }

  /** Reads the wallet, the budget against the deposit and the merchant's name. */
  async #review(): Promise<void> {
    const offer = this.offer;
    if (offer === undefined) return;
    this.stage = 'review';
    const wallet = await callApi<{ balance: string }>('GET', '/v1/wallet');
    if (!wallet.ok) {
      if (wallet.problem.status === 401) this.stage = 'login';
      else this.#refuse(describeProblem(wallet.problem));
      return;
    }
    const budget = await this.#allowHolding(offer.depositMicros);
    if (!budget.ok) return this.#refuse(budget.reason);
    const merchantId = encodeURIComponent(offer.challenge.request.recipient);
    const profile = await callApi<{ name: string }>('GET', `/v1/merchants/${merchantId}/profile`);
    if (!profile.ok) return this.#refuse(describeProblem(profile.problem));
    this.merchant = profile.value.name;
    this.balance = wallet.value.balance;
    this.ready = false;
    setTimeout(() => {
      this.ready = true;
    }, payButtonDelayMs);
  }

  /** The budget on holding `micros` more: a session may cost its whole deposit. */
  readonly #allowHolding = (micros: bigint) =>
    checkBudget(micros, { askingOrigin: this.#askingOrigin ?? '', nowMs: Date.now() });

  private async logIn(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    this.failure = await logInWith(event.currentTarget as HTMLFormElement);
    if (this.failure === undefined) await this.#review();
  }

  /** Only a person's click starts paying. */
  private async start(event: MouseEvent): Promise<void> {
    const offer = this.offer;
    if (!event.isTrusted || !this.ready || offer === undefined || this.stage !== 'review') return;
    if (this.failure !== undefined) return;
    this.stage = 'opening';
    const opened = await SessionPayer.open(offer, this.#allowHolding);
    if (!opened.ok) {
      this.stage = 'review';
      return this.#refuse(opened.reason);
    }
    if (this.stage !== 'opening') {
      // Closed or stopped while the platform opened it: nothing was paid, the hold goes back.
      void opened.value.payer.closeAtPlatform(true);
      return;
    }
    this.#payer = opened.value.payer;
    this.#startMs = Date.now();
    this.stage = 'playing';
    this.#send({ type: meterMessageTypes.opened, authorization: opened.value.authorization });
    this.#watchOpener();
  }

  /** The site's page was closed while paying: nobody listens, so stop. */
  #watchOpener(): void {
    const watch = setInterval(() => {
      if (this.stage !== 'playing') return clearInterval(watch);
      const opener = window.opener as Window | null;
      if (opener === null || opener.closed) {
        clearInterval(watch);
        void this.#stop('The site\u2019s page was closed.');
      }
    }, openerWatchMs);
  }

  /** The stream asks for a voucher: paid now if the clock allows, else when it does. */
  #needed(data: string): void {
    const payer = this.#payer;
    if (payer === undefined) return;
    const seconds = secondsNeeded(data, {
      sessionId: payer.sessionId,
      unitPriceMicros: payer.offer.unitPriceMicros,
    });
    if (!seconds.ok) return void this.#stop(`Stopped: ${seconds.reason}`);
    if (seconds.value > this.#wantedSeconds) this.#wantedSeconds = seconds.value;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#paceTimer !== undefined || this.#paying || this.stage !== 'playing') return;
    const payer = this.#payer;
    if (
      payer === undefined ||
      this.#wantedSeconds * payer.offer.unitPriceMicros <= payer.paidMicros
    )
      return;
    const waitMs = Math.max(0, payableAtMs(this.#startMs, this.#wantedSeconds) - Date.now());
    this.#paceTimer = setTimeout(() => {
      this.#paceTimer = undefined;
      void this.#payDue();
    }, waitMs);
  }

  /** Pays what the clock allows of what the stream asked for, and hands it to the site. */
  async #payDue(): Promise<void> {
    const payer = this.#payer;
    if (payer === undefined || this.stage !== 'playing') return;
    this.#paying = true;
    const paid = await payer.pay(this.#wantedSeconds);
    this.#paying = false;
    if (!paid.ok) return void this.#stop(`Stopped: ${paid.reason}`);
    if (this.stage !== 'playing') return;
    this.paidMicros = paid.value.paidMicros;
    this.#send({
      type: meterMessageTypes.vouchers,
      authorizations: paid.value.authorizations,
      close: paid.value.close,
      paid: paid.value.paidMicros.toString(),
    });
    this.#schedule();
  }

  /**
   * Stops paying: the site gets the last close (its close settles the session at once), and the
   * platform the payer's close, which settles it after a grace even if the site does not.
   */
  async #stop(reason: string, leaving = false): Promise<void> {
    if (this.stage === 'stopped') return;
    const wasOpening = this.stage === 'opening';
    this.stage = 'stopped';
    this.stopReason = reason;
    clearTimeout(this.#paceTimer);
    this.#paceTimer = undefined;
    const payer = this.#payer;
    const close = payer?.closeCredential();
    this.#send({
      type: meterMessageTypes.stopped,
      reason,
      ...(close === undefined ? {} : { close }),
    });
    if (payer === undefined) return;
    await payer.closeAtPlatform(leaving);
    if (!leaving && !wasOpening) await this.#awaitSettled(payer.sessionId);
  }

  async #awaitSettled(sessionId: string): Promise<void> {
    const deadline = Date.now() + settledWaitMs;
    while (this.isConnected && Date.now() < deadline) {
      const read = await callApi<{ session: PaymentSessionView }>(
        'GET',
        `/v1/payment-sessions/${encodeURIComponent(sessionId)}`,
      );
      if (read.ok && read.value.session.state === 'settled') {
        this.settled = read.value.session;
        const wallet = await callApi<{ balance: string }>('GET', '/v1/wallet');
        if (wallet.ok) this.balance = wallet.value.balance;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, settledPollMs));
    }
  }

  private stopClicked(event: MouseEvent): void {
    if (event.isTrusted) void this.#stop('You stopped paying in the Mite window.');
  }

  protected override render() {
    switch (this.stage) {
      case 'alone':
        return html`<h1>Mite payment</h1>
          <p>This window opens from a site’s player, to pay it by the second from your wallet.</p>
          <p><a href="/wallet/">Open your wallet</a></p>`;
      case 'waiting':
        return html`<h1>Mite payment</h1>
          <p role="status">Waiting for the site’s payment request…</p>`;
      case 'login':
        return logInView(this.#askingOrigin, this.failure, (event) => void this.logIn(event));
      case 'review':
      case 'opening':
        return this.renderReview();
      default:
        return this.renderRunning();
    }
  }

  private renderReview() {
    const offer = this.offer;
    const failure =
      this.failure === undefined
        ? nothing
        : html`<p class="notice error" role="alert">Not started: ${this.failure}</p>`;
    if (offer === undefined)
      return html`<h1>Not started</h1>
        ${failure}`;
    const price = showMicros(offer.unitPriceMicros);
    return html`<h1>Pay ${price} a second?</h1>
      ${this.renderSummary(offer)}
      <p>
        ${showMicros(offer.depositMicros)} is held from your balance while you listen. You pay only
        for the seconds you are sent, at most one second ahead of the clock; the rest comes back
        when you stop.
      </p>
      ${failure}
      <p>
        <button
          type="button"
          @click=${this.start}
          ?disabled=${!this.ready || this.stage !== 'review' || this.failure !== undefined}
        >
          Start paying ${price} a second
        </button>
        <button type="button" class="secondary" @click=${() => window.close()}>Cancel</button>
      </p>`;
  }

  private renderSummary(offer: SessionOffer) {
    const what = offer.challenge.request.description ?? offer.challenge.description;
    return html`<dl class="pay-summary" data-testid="pay-summary">
      <dt>To</dt>
      <dd>${this.merchant}</dd>
      <dt>For</dt>
      <dd>
        ${what === undefined ? nothing : html`${what}<br />`}<code>${offer.resourceUrl}</code>
      </dd>
      <dt>Asked by</dt>
      <dd>${this.#askingOrigin}</dd>
      <dt>Price</dt>
      <dd>${showMicros(offer.unitPriceMicros)} a second</dd>
      ${
        this.balance === ''
          ? nothing
          : html`<dt>Your balance</dt>
              <dd>${showAmount(this.balance)}</dd>`
      }
    </dl>`;
  }

  /** While paying, and once stopped: the running cost, Stop, then what was settled. */
  private renderRunning() {
    const offer = this.offer;
    if (offer === undefined) return nothing;
    const seconds = this.paidMicros / offer.unitPriceMicros;
    const playing = this.stage === 'playing';
    return html`<h1>${playing ? 'Paying by the second' : 'Stopped'}</h1>
      ${this.renderSummary(offer)}
      <p role="status" data-testid="running-cost">
        ${playing ? 'So far' : 'Paid'}: <strong>${showMicros(this.paidMicros)}</strong> for
        ${seconds.toString()} ${seconds === 1n ? 'second' : 'seconds'}.
      </p>
      ${this.failure === undefined ? nothing : html`<p class="notice" role="alert">${this.failure}</p>`}
      ${this.stopReason === undefined ? nothing : html`<p data-testid="stop-reason">${this.stopReason}</p>`}
      ${playing ? html`<p><button type="button" @click=${this.stopClicked}>Stop paying</button></p>` : nothing}
      ${this.renderSettled()}`;
  }

  private renderSettled() {
    if (this.stage !== 'stopped') return nothing;
    const settled = this.settled;
    if (settled === undefined) {
      return html`<p data-testid="settlement">Settling with ${this.merchant}…</p>`;
    }
    const paid = BigInt(settled.settledAmount ?? '0');
    const back = BigInt(settled.deposit) - paid;
    return html`<p class="notice success" data-testid="settlement">
        Settled: ${showMicros(paid)} paid to ${this.merchant}; ${showMicros(back)} of the deposit is
        back in your balance.
      </p>
      <p>You can close this window.</p>`;
  }
}

customElements.define('mite-pay-session-page', PaySessionPage);
