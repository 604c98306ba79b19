/**
 * `<mite-paywall>`: the element a site puts where its paid content goes, with one script tag
 * (`<script type="module" src="https://PLATFORM/paywall.js"></script>`). It asks the resource for
 * its price (the site's 402 challenge), shows the price and the merchant, and on a click opens the
 * platform's payment window, which holds the wallet session (a first-party cookie there, no
 * third-party cookie anywhere), shows the person what they pay for and to whom, pays on their
 * click there and hands back a credential (pay-messages.ts). The element then fetches the
 * resource with it and shows the content. The credential is kept in the site's own storage
 * (localStorage, under the resource's URL), so that a reload opens the content again for as long
 * as the site honours the receipt's access, rather than asking the reader to pay twice.
 *
 * Attributes: `platform` (the platform's URL, required: the only origin whose window is heard),
 * `src` (the paid resource, by default the page's own URL), `price` (shown until the challenge
 * is read), `label` (what is sold, when it is not the text that follows: "Iron sword"). Events: `mite-paid` (cancelable; `detail.text` is the content, and a listener that
 * calls preventDefault shows it itself).
 *
 * It stays small (at most 10 kB gzipped, measured by a test): no framework, and the challenge is
 * read here only for display; the platform's window checks it with the protocol package.
 */
import { challengeParam, make, requestOf, showPrice, SiteElement } from './element-kit.ts';
import {
  askingOriginParam,
  messageText,
  messageType,
  payMessageTypes,
  payWindowPath,
} from './pay-messages.ts';

const css = `
button[disabled]{background:#555}
.box.revealed{border:0;padding:0;background:none}
.content p{margin:0 0 1rem}
`;

/** The payment window's size: room for what is paid, to whom, and the Pay button. */
const popupFeatures = 'popup,width=480,height=680';

interface Offer {
  readonly header: string;
  readonly price: string;
  readonly merchant: string;
}

/** What the element shows of a 402's challenge, or undefined when it holds no Mite challenge. */
export function readOffer(header: string): Offer | undefined {
  const request = challengeParam(header, 'request');
  const realm = challengeParam(header, 'realm');
  const fields = request === undefined ? undefined : requestOf(request);
  if (realm === undefined || typeof fields?.amount !== 'string') return undefined;
  if (typeof fields.currency !== 'string') return undefined;
  try {
    return { header, price: showPrice(fields.amount, fields.currency), merchant: realm };
  } catch {
    return undefined;
  }
}

/** The credential kept under `key` in the page's storage, or null (none, or no storage). */
function keptCredential(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Keeps (or, with null, forgets) a credential; a browser without storage keeps nothing. */
function keep(key: string, credential: string | null): void {
  try {
    if (credential === null) localStorage.removeItem(key);
    else localStorage.setItem(key, credential);
  } catch {
    // Storage is off: after a reload the reader is shown the price again.
  }
}

export class MitePaywall extends SiteElement {
  #offer: Offer | undefined;
  #window: Window | null = null;

  constructor() {
    super(css, 'Paid content');
  }

  connectedCallback(): void {
    window.addEventListener('message', this.#onMessage);
    // Several on one page (a shop's items) are told apart by what each sells.
    this.box.setAttribute('aria-label', this.getAttribute('label') ?? 'Paid content');
    const price = this.getAttribute('price');
    this.show(make('p', {}, price === null ? 'Loading the price\u2026' : `Price: ${price}`));
    void this.#load();
  }

  disconnectedCallback(): void {
    window.removeEventListener('message', this.#onMessage);
  }

  /** Where this page keeps the credential of `src`, so that a reload does not pay twice. */
  get #keptKey(): string {
    return `mite-paywall:${this.src}`;
  }

  async #load(): Promise<void> {
    try {
      // A credential kept from an earlier payment opens the content while its access lasts (the
      // site decides); one it refuses is forgotten and the price shown.
      const kept = keptCredential(this.#keptKey);
      if (kept !== null) {
        const again = await this.#fetch(kept);
        if (again.ok) return this.#reveal(await again.text());
        keep(this.#keptKey, null);
      }
      const response = await this.#fetch();
      if (response.ok) return this.#reveal(await response.text());
      const offer = readOffer(response.headers.get('www-authenticate') ?? '');
      if (response.status !== 402 || offer === undefined) {
        return this.say(
          `This content cannot be sold here (the site answered ${response.status}).`,
          true,
        );
      }
      this.#offer = offer;
      const button = make('button', { type: 'button' }, `Pay ${offer.price}`);
      button.addEventListener('click', () => this.#pay());
      // A site selling a thing rather than the text below names it (`label`).
      const label = this.getAttribute('label');
      this.show(
        make(
          'p',
          {},
          label === null ? 'Read on for ' : `${label} for `,
          make('strong', {}, offer.price),
          ', paid to ',
          make('strong', {}, offer.merchant),
          ' from your Mite wallet.',
        ),
        button,
      );
    } catch {
      this.say('The price could not be loaded: check your connection and reload.', true);
    }
  }

  #pay(): void {
    const platform = this.platform;
    if (platform === undefined) return this.say('This paywall names no platform to pay at.', true);
    const url = new URL(payWindowPath, platform);
    url.searchParams.set(askingOriginParam, location.origin);
    this.#window = window.open(url.href, 'mite-pay', popupFeatures);
    if (this.#window === null) {
      return this.say(
        'The payment window was blocked: allow pop-ups for this site and try again.',
        true,
      );
    }
    this.say('Confirm the payment in the Mite window.');
  }

  readonly #onMessage = (event: MessageEvent): void => {
    // Only the window this element opened, at the platform's origin, is heard.
    if (event.origin !== this.platform || event.source !== this.#window || this.#window === null) {
      return;
    }
    const type = messageType(event.data);
    if (type === payMessageTypes.ready && this.#offer !== undefined) {
      this.#window.postMessage(
        { type: payMessageTypes.challenge, header: this.#offer.header },
        event.origin,
      );
    } else if (type === payMessageTypes.credential) {
      const authorization = messageText(event.data, 'authorization');
      if (authorization !== undefined) void this.#unlock(authorization);
    } else if (type === payMessageTypes.refused) {
      this.say(
        `Not paid: ${messageText(event.data, 'reason') ?? 'the payment was refused.'}`,
        true,
      );
    } else if (type === payMessageTypes.cancelled) {
      this.say('Not paid: you closed the payment without paying.');
    }
  };

  #fetch(authorization?: string): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/plain, application/json;q=0.9' };
    if (authorization !== undefined) headers.authorization = authorization;
    return fetch(this.src, { headers, cache: 'no-store' });
  }

  async #unlock(authorization: string): Promise<void> {
    this.say('Paid. Opening\u2026');
    keep(this.#keptKey, authorization);
    try {
      const response = await this.#fetch(authorization);
      if (!response.ok) {
        return this.say(
          `Paid, but the site answered ${response.status}: reload to try again.`,
          true,
        );
      }
      this.#reveal(await response.text());
    } catch {
      this.say('Paid, but the content could not be loaded: reload to try again.', true);
    }
  }

  #reveal(text: string): void {
    const paid = new CustomEvent('mite-paid', { detail: { text }, cancelable: true });
    if (!this.dispatchEvent(paid)) return this.show();
    const paragraphs = text
      .split(/\n\s*\n/)
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .map((part) => make('p', {}, part));
    this.say('');
    this.box.classList.add('revealed');
    this.show(make('div', { class: 'content', part: 'content' }, ...paragraphs));
  }
}

if (customElements.get('mite-paywall') === undefined) {
  customElements.define('mite-paywall', MitePaywall);
}
