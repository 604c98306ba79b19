/**
 * `<mite-meter>`: a player a site puts where a stream paid by the second goes, with one script
 * tag (`<script type="module" src="https://PLATFORM/meter.js"></script>`). It asks the stream for
 * its price (the site's 402 session challenge), shows the price per second and the merchant, and
 * on Play opens the platform's session window, which holds the wallet, opens the payment session
 * and pays each second as the clock reaches it (meter-messages.ts). The element only carries: it
 * sends the stream request with the window's `open` credential, hands each
 * `payment-need-voucher` event of the stream to the window, delivers the vouchers the window
 * answers to the site (on HEAD, as the session meter takes them), and on Stop (its own, the
 * window's, or the stream's end) delivers the last `close`, so that the site settles the session
 * at once, for exactly the seconds it sent.
 *
 * Attributes: `platform` (required), `src` (the stream), `label` (what plays). Events:
 * `mite-meter-data` for each paid event of the stream (`detail.data`, `detail.seconds`), and
 * `mite-meter-stopped` (`detail.seconds`, `detail.paid` in micro-units). The site's own script
 * shows or plays what comes; the element shows the price, Play, Stop and where things stand.
 */
import { challengeParam, make, requestOf, showPrice, SiteElement } from './element-kit.ts';
import { meterMessageTypes, meterWindowPath } from './meter-messages.ts';
import { askingOriginParam, messageText, messageType } from './pay-messages.ts';

const css = `
.status{margin:.75rem 0 0}
`;

const popupFeatures = 'popup,width=480,height=720';
/** How long a stop waits for the window's last close, and for the seconds already paid to come. */
const stopWaitMs = 3_000;
/** The longest event kept while its end has not arrived. */
const eventLengthMax = 65_536;

type State = 'loading' | 'ready' | 'starting' | 'playing' | 'stopping' | 'stopped';

interface Offer {
  readonly header: string;
  readonly unitPriceMicros: bigint;
  readonly price: string;
  readonly currency: string;
  readonly merchant: string;
}

/** What the element shows of a 402's session challenge, or undefined when it holds none. */
export function readSessionOffer(header: string): Offer | undefined {
  const encoded = challengeParam(header, 'request', 'session');
  const merchant = challengeParam(header, 'realm', 'session');
  const request = encoded === undefined ? undefined : requestOf(encoded);
  const { amount, currency } = request ?? {};
  if (merchant === undefined || typeof amount !== 'string' || typeof currency !== 'string') {
    return undefined;
  }
  try {
    const price = showPrice(amount, currency);
    return { header, unitPriceMicros: BigInt(amount), price, currency, merchant };
  } catch {
    return undefined;
  }
}

export class MiteMeter extends SiteElement {
  #state: State = 'loading';
  #offer: Offer | undefined;
  #window: Window | null = null;
  #stream: AbortController | undefined;
  /** Paid events received, the seconds paid for, and the last close credential. */
  #seconds = 0;
  #paidMicros = 0n;
  #close: string | undefined;
  /** Vouchers are delivered one after another, in the order the window gave them. */
  #deliveries: Promise<unknown> = Promise.resolve();
  #stopped: (close: string | undefined) => void = () => undefined;

  constructor() {
    super(css, 'Paid stream');
  }

  connectedCallback(): void {
    window.addEventListener('message', this.#onMessage);
    this.box.setAttribute('aria-label', this.getAttribute('label') ?? 'Paid stream');
    this.show(make('p', {}, 'Loading the price\u2026'));
    void this.#load();
  }

  disconnectedCallback(): void {
    window.removeEventListener('message', this.#onMessage);
    this.#stream?.abort();
  }

  #button(text: string, onClick: () => void): HTMLElement {
    const button = make('button', { type: 'button' }, text);
    button.addEventListener('click', onClick);
    return button;
  }

  async #load(): Promise<void> {
    this.#seconds = 0;
    this.#paidMicros = 0n;
    this.#close = undefined;
    this.#deliveries = Promise.resolve();
    try {
      const response = await fetch(this.src, {
        headers: { accept: 'text/event-stream' },
        cache: 'no-store',
      });
      await response.body?.cancel();
      const offer = readSessionOffer(response.headers.get('www-authenticate') ?? '');
      if (response.status !== 402 || offer === undefined) {
        return this.say(
          `This stream cannot be paid here (the site answered ${response.status}).`,
          true,
        );
      }
      this.#offer = offer;
      this.#state = 'ready';
      const label = this.getAttribute('label');
      this.show(
        make(
          'p',
          {},
          label === null ? 'Listen for ' : `${label}: `,
          make('strong', {}, `${offer.price} a second`),
          ', paid to ',
          make('strong', {}, offer.merchant),
          ' from your Mite wallet, for the seconds you listen.',
        ),
        this.#button('Play', () => this.#play()),
      );
    } catch {
      this.say('The price could not be loaded: check your connection and reload.', true);
    }
  }

  #play(): void {
    const platform = this.platform;
    if (platform === undefined) return this.say('This player names no platform to pay at.', true);
    const url = new URL(meterWindowPath, platform);
    url.searchParams.set(askingOriginParam, location.origin);
    this.#window = window.open(url.href, 'mite-meter', popupFeatures);
    if (this.#window === null) {
      return this.say(
        'The payment window was blocked: allow pop-ups for this site and try again.',
        true,
      );
    }
    this.#state = 'starting';
    this.say('Start paying in the Mite window.');
  }

  readonly #onMessage = (event: MessageEvent): void => {
    if (event.origin !== this.platform || event.source !== this.#window || this.#window === null) {
      return;
    }
    const type = messageType(event.data);
    if (type === meterMessageTypes.ready && this.#offer !== undefined) {
      this.#post({ type: meterMessageTypes.challenge, header: this.#offer.header });
    } else if (type === meterMessageTypes.opened && this.#state === 'starting') {
      const authorization = messageText(event.data, 'authorization');
      if (authorization !== undefined) void this.#listen(authorization);
    } else if (type === meterMessageTypes.vouchers) {
      this.#paid(event.data as Record<string, unknown>);
    } else if (type === meterMessageTypes.stopped) {
      const close = messageText(event.data, 'close') ?? this.#close;
      this.say(messageText(event.data, 'reason') ?? 'Stopped.');
      this.#stopped(close);
      void this.#finish(close);
    } else if (type === meterMessageTypes.refused) {
      this.say(`Not paid: ${messageText(event.data, 'reason') ?? 'refused.'}`, true);
    }
  };

  #post(message: unknown): void {
    const platform = this.platform;
    if (platform !== undefined) this.#window?.postMessage(message, platform);
  }

  /** The window's vouchers: delivered to the site in order, the close kept for the stop. */
  #paid(data: Record<string, unknown>): void {
    const { authorizations, close, paid } = data;
    if (!Array.isArray(authorizations) || typeof close !== 'string' || typeof paid !== 'string') {
      return;
    }
    // While stopping too: the window's last close names these, so the site must have them.
    if (this.#state !== 'playing' && this.#state !== 'stopping') return;
    this.#close = close;
    this.#paidMicros = BigInt(paid);
    for (const authorization of authorizations) {
      if (typeof authorization === 'string') this.#deliver(authorization);
    }
  }

  #deliver(authorization: string): void {
    this.#deliveries = this.#deliveries.then(async () => {
      const answer = await fetch(this.src, { method: 'HEAD', headers: { authorization } });
      if (!answer.ok) this.say(`The site refused a payment (${answer.status}).`, true);
    });
    this.#deliveries = this.#deliveries.catch(() =>
      this.say('A payment did not reach the site.', true),
    );
  }

  /** Requests the stream with the open credential and reads its events as they come. */
  async #listen(authorization: string): Promise<void> {
    this.#state = 'playing';
    this.#stream = new AbortController();
    this.show(this.#button('Stop', () => this.#askStop()));
    this.say('Playing\u2026');
    try {
      const response = await fetch(this.src, {
        headers: { authorization, accept: 'text/event-stream' },
        cache: 'no-store',
        signal: this.#stream.signal,
      });
      if (!response.ok || response.body === null) {
        this.say(`The site did not play the stream (${response.status}).`, true);
      } else {
        await this.#read(response.body);
      }
    } catch {
      // Aborted by a stop, or the connection broke: the stop below settles what was paid.
    }
    // The stream ended (the song is over, or the site stopped it): stop paying.
    if (this.#state === 'playing') this.#askStop();
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      for (let end = pending.search(/\r?\n\r?\n/); end !== -1; end = pending.search(/\r?\n\r?\n/)) {
        this.#event(pending.slice(0, end));
        pending = pending.slice(end).replace(/^\r?\n\r?\n/, '');
      }
      if (pending.length > eventLengthMax) pending = '';
    }
  }

  /** One server-sent event: a need goes to the window, a paid event to the page. */
  #event(block: string): void {
    let name = 'message';
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') name = value;
      else if (field === 'data') data.push(value);
    }
    const text = data.join('\n');
    if (name === 'payment-need-voucher') {
      this.#post({ type: meterMessageTypes.need, data: text });
    } else if (name === 'message' && data.length > 0) {
      this.#seconds += 1;
      this.say(`Playing: ${this.#seconds} s, ${this.#cost()} so far.`);
      this.dispatchEvent(
        new CustomEvent('mite-meter-data', { detail: { data: text, seconds: this.#seconds } }),
      );
    }
  }

  #cost(): string {
    const currency = this.#offer?.currency ?? 'usd';
    return showPrice(this.#paidMicros.toString(), currency);
  }

  /** Asks the window to stop paying; its answer (or, if it is gone, the last close) ends it. */
  #askStop(): void {
    if (this.#state !== 'playing') return;
    this.#state = 'stopping';
    this.say('Stopping\u2026');
    this.#post({ type: meterMessageTypes.stop });
    const timer = setTimeout(() => void this.#finish(this.#close), stopWaitMs);
    this.#stopped = () => clearTimeout(timer);
  }

  /**
   * Ends the stream once the seconds paid for have come (the site sends a paid second at once),
   * then delivers the close: the site settles the session at exactly that.
   */
  async #finish(close: string | undefined): Promise<void> {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    await this.#deliveries;
    const paidSeconds =
      this.#offer === undefined ? 0 : Number(this.#paidMicros / this.#offer.unitPriceMicros);
    const deadline = Date.now() + stopWaitMs;
    while (this.#seconds < paidSeconds && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.#stream?.abort();
    if (close !== undefined) this.#deliver(close);
    await this.#deliveries;
    this.show(this.#button('Play again', () => void this.#load()));
    this.say(`Stopped after ${this.#seconds} s: ${this.#cost()} paid.`);
    this.dispatchEvent(
      new CustomEvent('mite-meter-stopped', {
        detail: { seconds: this.#seconds, paid: this.#paidMicros.toString() },
      }),
    );
  }
}

if (customElements.get('mite-meter') === undefined) {
  customElements.define('mite-meter', MiteMeter);
}
