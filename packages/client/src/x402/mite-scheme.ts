/**
 * Mite as an x402 scheme client, for the stock `@x402/fetch` (2.27): registered on an
 * `x402Client` for Mite's networks, it pays a requirement of scheme "mite" by asking the wallet's
 * platform to pay the Mite challenge inside it, through the credential broker and payer
 * `createMiteFetch` uses (the wallet's platform only, budgets, approval, one payment per
 * challenge and per resource at a time, kept receipts), and hands the Mite credential back as the
 * x402 payload, which a Mite paywall reads from `PAYMENT-SIGNATURE`.
 *
 * A stock x402 client always asks first without paying, so a kept receipt is offered only in
 * answer to the 402: a resource bought with an access period opens again without paying, and a
 * kept receipt the merchant refuses is dropped and the 402 paid (x402's one "recovered" retry).
 *
 * Only types come from `@x402/fetch`, so this module loads nothing of x402 at run time, and the
 * package's main entry does not load this module at all (it is the `@mite/client/x402` subpath).
 */
import {
  amountScale,
  credentialJson,
  currency as platformCurrency,
  parseCredentialHeader,
  parseX402Requirements,
  sameCurrency,
  x402NetworkOf,
  x402Scheme,
  x402Version,
} from '@mite/protocol';
import type {
  Network,
  PaymentRequirements,
  SchemeNetworkClient,
  x402HTTPClient,
} from '@x402/fetch';
import type { Budget, Spending } from '../budget.ts';
import { MitePaymentError } from '../errors.ts';
import { CredentialBroker, type Obtained } from '../credential-broker.ts';
import { paymentSiteOf, refuseInsecure } from '../challenge-selection.ts';
import { badChallenge, Payer, type PaymentEvent, type Wallet } from '../payer.ts';
import type { PlatformRetry } from '../platform-client.ts';
import { ReceiptCache } from '../receipt-cache.ts';
import { MemoryReceiptStore, type ReceiptStore } from '../receipt-store.ts';

// @x402/fetch re-exports only some of @x402/core's types; the rest are read off the ones it has,
// so that the one optional peer dependency is @x402/fetch.
type PaymentPayloadContext = NonNullable<
  Parameters<SchemeNetworkClient['createPaymentPayload']>[2]
>;
type PaymentPayloadResult = Awaited<ReturnType<SchemeNetworkClient['createPaymentPayload']>>;
type SchemeClientHooks = NonNullable<SchemeNetworkClient['schemeHooks']>;
type PaymentCreationContext = Parameters<
  NonNullable<SchemeClientHooks['onBeforePaymentCreation']>
>[0];
type PaymentResponseContext = Parameters<NonNullable<SchemeClientHooks['onPaymentResponse']>>[0];
type PaymentRequiredHook = Parameters<x402HTTPClient['onPaymentRequired']>[0];
type DefaultAsset = NonNullable<ReturnType<NonNullable<SchemeNetworkClient['findDefaultAsset']>>>;

export interface MiteSchemeOptions {
  /** The platform this scheme pays at, and the user's session there; any other is refused. */
  readonly wallet: Wallet;
  /** Limits as decimal strings, as for `createMiteFetch`. */
  readonly budget: Budget;
  /** The `fetch` that calls the platform (default: the global one, looked up at each call). */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (default `Date.now`): challenge expiry, UTC days. */
  readonly clock?: () => number;
  /** Told of every payment the platform took; a throwing listener does not undo it. */
  readonly onPayment?: (event: PaymentEvent) => void;
  /** Retries of the platform call (same Idempotency-Key each time). */
  readonly platformRetry?: PlatformRetry;
  /** Where receipts are kept (default: in memory, for the life of the scheme). */
  readonly receiptStore?: ReceiptStore;
}

/** A credential handed to x402, by the payload object x402 sends on. */
interface Presented {
  readonly obtained: Obtained;
  readonly resourceKey: string;
}

/**
 * The scheme client. Register it for `scheme.network` (this wallet's platform only) or for
 * `mite:*` (any Mite platform is offered to it, and every one but the wallet's is refused).
 */
export class MiteScheme implements SchemeNetworkClient {
  readonly scheme = x402Scheme;
  /** The CAIP-2 network of the wallet's platform, as Mite's 402s name it. */
  readonly network: Network;
  readonly schemeHooks: SchemeClientHooks;
  /**
   * Install on an `x402HTTPClient` (`httpClient.onPaymentRequired(scheme.onPaymentRequired)`) so
   * that the scheme knows the URL that answered 402, not only the one the 402 names, and refuses
   * a site that asks to be paid for another site's resource, as `createMiteFetch` does.
   */
  readonly onPaymentRequired: PaymentRequiredHook;
  readonly #payer: Payer;
  readonly #receipts: ReceiptCache;
  readonly #broker: CredentialBroker;
  readonly #clock: () => number;
  readonly #walletCurrency: string;
  /** The URL fetched, per PaymentRequired object (set by the HTTP hook). */
  readonly #requestUrls = new WeakMap<object, string>();
  /**
   * The URL whose site asks, per requirements object selected (set just before the payload is
   * made): the URL fetched when the HTTP hook saw it, else the 402's own `resource.url`.
   */
  readonly #askers = new WeakMap<object, string>();
  /** What each payload handed to x402 carries, so that a merchant's refusal can be acted on. */
  readonly #presented = new WeakMap<object, Presented>();
  /** Credentials a merchant answered with a 402: never offered again. */
  readonly #refused = new Set<string>();

  constructor(options: MiteSchemeOptions) {
    const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#clock = options.clock ?? Date.now;
    this.#payer = new Payer({
      wallet: options.wallet,
      budget: options.budget,
      fetch: doFetch,
      clock: this.#clock,
      onPayment: options.onPayment,
      platformRetry: options.platformRetry,
    });
    const nowSeconds = () => this.#nowSeconds();
    const store = options.receiptStore ?? new MemoryReceiptStore({ nowSeconds });
    this.#receipts = new ReceiptCache(store, nowSeconds);
    this.#broker = new CredentialBroker(this.#payer, this.#receipts, nowSeconds);
    this.network = x402NetworkOf(options.wallet.platformUrl);
    this.#walletCurrency = options.wallet.currency ?? platformCurrency;
    this.onPaymentRequired = ({ paymentRequired, requestUrl }) => {
      this.#requestUrls.set(paymentRequired, requestUrl);
      return Promise.resolve();
    };
    this.schemeHooks = {
      onBeforePaymentCreation: (context) => {
        this.#noteAsker(context);
        return Promise.resolve();
      },
      onPaymentResponse: (context) => this.#afterResponse(context),
    };
  }

  /**
   * Mite's asset to x402's spend controls: the wallet's currency in micro-units, which, for US
   * dollars, lets the default cap (`maxAmountPerPayment`, "$1") apply without an allow-list.
   */
  findDefaultAsset = (asset: string, network: Network): DefaultAsset | undefined => {
    if (!network.startsWith(`${x402Scheme}:`)) return undefined;
    if (!sameCurrency(asset, this.#walletCurrency) || !sameCurrency(asset, platformCurrency)) {
      return undefined;
    }
    return { asset, decimals: amountScale, symbol: platformCurrency };
  };

  /** What this scheme has paid so far. */
  spent(): Spending {
    return this.#payer.spent();
  }

  async createPaymentPayload(
    version: number,
    requirements: PaymentRequirements,
    context?: PaymentPayloadContext,
  ): Promise<PaymentPayloadResult> {
    if (version !== x402Version) {
      throw new MitePaymentError('badChallenge', `x402 version ${version} is not ${x402Version}`, {
        protocolCode: 'unsupportedVersion',
      });
    }
    this.#refuseOtherPlatform(requirements);
    const challenge = parseX402Requirements(requirements, { nowSeconds: this.#nowSeconds() });
    if (!challenge.ok) throw badChallenge(challenge);
    refuseAboveCap(requirements, context?.maxAmountPerPayment);
    const target = this.#targetOf(requirements);
    refuseInsecure(target);
    const site = paymentSiteOf(challenge.value, target);
    const { resourceKey } = site;
    const obtained = await this.#broker.obtain(challenge.value, site, this.#refused);
    const credential = parseCredentialHeader(obtained.credential);
    if (!credential.ok) {
      throw new MitePaymentError('badReceipt', 'a kept credential no longer reads', {
        protocolCode: credential.code,
      });
    }
    const payload = { ...credentialJson(credential.value) };
    this.#presented.set(payload, { obtained, resourceKey });
    return { x402Version: version, payload };
  }

  #nowSeconds(): number {
    return Math.floor(this.#clock() / 1000);
  }

  #noteAsker({ paymentRequired, selectedRequirements }: PaymentCreationContext): void {
    const requestUrl = this.#requestUrls.get(paymentRequired);
    const named: unknown = paymentRequired.resource?.url;
    const asker = requestUrl ?? (typeof named === 'string' ? named : undefined);
    if (asker !== undefined) this.#askers.set(selectedRequirements, asker);
  }

  /** Checked first, on the network alone, so that nothing of another platform's offer is read. */
  #refuseOtherPlatform(requirements: PaymentRequirements): void {
    if (requirements.network === this.network) return;
    const platform = requirements.extra?.['platform'];
    const named = typeof platform === 'string' ? ` (${platform})` : '';
    throw new MitePaymentError(
      'untrustedPlatform',
      `the merchant asks to pay on ${requirements.network}${named}, this client pays only on ` +
        `${this.network}, its wallet's platform`,
    );
  }

  /**
   * The URL whose site asked for the payment: the one fetched when the HTTP hook is installed,
   * else the absolute `resource.url` of the 402 (all that the x402 client tells a scheme).
   */
  #targetOf(requirements: PaymentRequirements): URL {
    const asker = this.#askers.get(requirements);
    let target: URL | undefined;
    try {
      target = asker === undefined ? undefined : new URL(asker);
    } catch {
      target = undefined;
    }
    if (target === undefined) {
      throw new MitePaymentError(
        'badChallenge',
        'the x402 client did not say which URL asks for this payment (an absolute resource.url)',
        { protocolCode: 'badUrl' },
      );
    }
    return target;
  }

  /**
   * After the paid request: a 402 to a credential paid earlier (a kept receipt, or one shared with
   * another request) drops it and asks x402 to pay the 402 afresh; a 402 to a credential paid just
   * now is the merchant's refusal, returned to the caller (paying again would not help).
   */
  async #afterResponse(context: PaymentResponseContext): Promise<{ recovered: true } | undefined> {
    const presented = this.#presented.get(context.paymentPayload.payload);
    if (presented === undefined || context.paymentRequired === undefined) return undefined;
    const { obtained, resourceKey } = presented;
    this.#refused.add(obtained.credential);
    const keys = [resourceKey, ...this.#broker.forgetPaid(obtained.credential)];
    await this.#receipts.forget(obtained.credential, keys);
    return obtained.source === 'paid' ? undefined : { recovered: true };
  }
}

/** x402's own spend cap, as the x402 client resolved it for this requirement, in atomic units. */
function refuseAboveCap(requirements: PaymentRequirements, cap: string | undefined): void {
  if (cap === undefined || !/^[0-9]+$/.test(cap)) return;
  if (BigInt(requirements.amount) <= BigInt(cap)) return;
  throw new MitePaymentError(
    'overBudget',
    `${requirements.amount} micro-units is above the x402 spend cap of ${cap} per payment`,
    { limit: 'perPayment' },
  );
}

/**
 * A Mite scheme client for `x402Client.register('mite:*', miteScheme(...))` (or for
 * `scheme.network`). Configuration errors (a wallet on plain http, a bad budget) throw here.
 */
export function miteScheme(options: MiteSchemeOptions): MiteScheme {
  return new MiteScheme(options);
}
