/**
 * The `mite` payment method for clients of the `mppx` SDK (the IETF Payment scheme's reference
 * client): `Mppx.create({ methods: [mite({ wallet, budget })] })` pays Mite's 402s from the
 * user's Mite wallet. mppx reads the 402, picks the `mite/charge` challenge, asks this method
 * for a credential and retries; this method gets the credential the way `createMiteFetch` does,
 * through the same payer (budgets, approval, the platform call, the receipt check) and the same
 * broker (one challenge never paid twice, a live receipt reused instead of paying again). See
 * packages/protocol/METHOD.md for the method itself.
 */
import {
  type Challenge,
  type ChallengeEcho,
  challengeFromEcho,
  chargeIntent,
  checkChallengeTimes,
  miteMethod,
  refused,
} from '@mite/protocol';
import { type Challenge as MppxChallenge, Method, PaymentRequest, z } from 'mppx';
import type { Budget, Spending } from '../budget.ts';
import { paymentSiteOf, refuseInsecure } from '../challenge-selection.ts';
import { CredentialBroker } from '../credential-broker.ts';
import { badChallenge, Payer, type PaymentEvent, type PaymentSite, type Wallet } from '../payer.ts';
import type { PlatformRetry } from '../platform-client.ts';
import { ReceiptCache } from '../receipt-cache.ts';
import { MemoryReceiptStore, type ReceiptStore } from '../receipt-store.ts';

/**
 * The `mite/charge` method as mppx describes methods: its request is the charge intent's shape
 * with Mite's `methodDetails`, its credential payload the platform's receipt. mppx does not check
 * a challenge's request against this schema on the client (it matches `method/intent` only), so
 * `mite` reads every challenge again with @mite/protocol's own, stricter decoder.
 */
export const miteCharge = Method.from({
  name: miteMethod,
  intent: chargeIntent,
  schema: {
    credential: { payload: z.object({ receipt: z.string() }) },
    request: z.looseObject({
      amount: z.string(),
      currency: z.string(),
      recipient: z.string(),
      description: z.optional(z.string()),
      methodDetails: z.looseObject({
        accessPeriodSeconds: z.number(),
        category: z.optional(z.string()),
        decimals: z.number(),
        platform: z.string(),
        resource: z.string(),
      }),
    }),
  },
});

/**
 * What a caller may pass with one request (`mppx.fetch(url, { context: { url } })`): the URL
 * asked for. mppx hands a method the challenge alone, never the request it answers; with the URL,
 * the payment counts against that origin's daily budget, a plain-http site off the loopback is
 * refused, and a challenge selling another site's resource is refused, as in `createMiteFetch`.
 */
export const miteRequestContext = z.object({ url: z.string() });

export interface MiteMethodOptions {
  readonly wallet: Wallet;
  readonly budget: Budget;
  /** The `fetch` that calls the platform (default: the global one, looked up at each call). */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (default `Date.now`): challenge expiry, access, UTC days. */
  readonly clock?: () => number;
  /** Where receipts are kept (default: in memory, for the life of the method). */
  readonly receiptStore?: ReceiptStore;
  /** Told of every payment the platform took; a throwing listener does not undo it. */
  readonly onPayment?: (event: PaymentEvent) => void;
  /** Retries of the platform call (same Idempotency-Key each time). */
  readonly platformRetry?: PlatformRetry;
}

/** The draft's parameters that Mite's challenges never carry and its client cannot honour. */
const unsupportedParameters = ['digest', 'opaque', 'header'] as const;

/**
 * A challenge as mppx parsed it, read again as Mite's. mppx keeps the request decoded and writes
 * it back in JCS form (`PaymentRequest.serialize`), which gives back Mite's bytes, since Mite
 * sends its request in JCS form: the echo then carries the text the merchant's HMAC covers.
 */
export function miteChallengeOf(challenge: MppxChallenge.Challenge, nowSeconds: number): Challenge {
  const unsupported = unsupportedParameters.find((name) => challenge[name] !== undefined);
  if (unsupported !== undefined) {
    throw badChallenge(
      refused('unsupportedParameter', `Mite challenges do not use "${unsupported}"`),
    );
  }
  if (challenge.expires === undefined) {
    throw badChallenge(refused('missingParameter', 'parameter "expires" is missing'));
  }
  const echo: ChallengeEcho = {
    id: challenge.id,
    realm: challenge.realm,
    method: challenge.method,
    intent: challenge.intent,
    request: PaymentRequest.serialize(challenge.request),
    expires: challenge.expires,
    ...(challenge.description === undefined ? {} : { description: challenge.description }),
  };
  const read = challengeFromEcho(echo);
  const timely = read.ok ? checkChallengeTimes(read.value, nowSeconds) : read;
  if (!timely.ok) throw badChallenge(timely);
  return timely.value;
}

/** A URL given by the caller, or undefined when it does not read as an http(s) URL. */
function httpUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Who asks for the payment. The URL the caller gave, else the resource when the challenge names
 * it absolutely: then the site is that origin, as in `createMiteFetch`. Else nothing names the
 * site, and the merchant stands for it: the daily limit counts per merchant, and the receipt is
 * kept under the merchant and the resource (which is what the merchant's middleware checks).
 */
export function miteSiteOf(challenge: Challenge, url: string | undefined): PaymentSite {
  const { recipient, methodDetails } = challenge.request;
  const asked = httpUrl(url ?? methodDetails.resource);
  if (url !== undefined && asked === undefined) {
    throw new TypeError(`the context's url must be an http(s) URL, not ${url}`);
  }
  if (asked !== undefined) {
    refuseInsecure(asked);
    return paymentSiteOf(challenge, asked);
  }
  return {
    origin: `merchant ${recipient}`,
    url: methodDetails.resource,
    resourceKey: `mite:${methodDetails.platform}|${recipient}|${methodDetails.resource}`,
  };
}

/** The `mite` method for mppx, which also reports what it has spent. */
export type MiteMppxMethod = Method.Client<typeof miteCharge, typeof miteRequestContext> & {
  /** What this method has paid so far. */
  spent(): Spending;
};

/**
 * The `mite` method for an mppx client: pays a Mite challenge from `wallet` within `budget` and
 * returns the credential that carries the platform's receipt. Refusals throw `MitePaymentError`
 * (mppx's fetch passes it on unchanged). Keep one per budget, as with `createMiteFetch`.
 */
export function mite(options: MiteMethodOptions): MiteMppxMethod {
  const clock = options.clock ?? Date.now;
  const nowSeconds = () => Math.floor(clock() / 1000);
  const payer = new Payer({
    wallet: options.wallet,
    budget: options.budget,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    clock,
    onPayment: options.onPayment,
    platformRetry: options.platformRetry,
  });
  const store = options.receiptStore ?? new MemoryReceiptStore({ nowSeconds });
  const broker = new CredentialBroker(payer, new ReceiptCache(store, nowSeconds), nowSeconds);
  // A single-use purchase opens its resource once. mppx tells a method nothing of what the
  // merchant answered, so a second request for such a credential (mppx's retry after a refusal,
  // or a new request within the second that repeats the challenge) is refused by the broker as
  // "paid already", never paid again.
  const presentedOnce = new Set<string>();
  const method = Method.toClient(miteCharge, {
    context: miteRequestContext,
    async createCredential(parameters: {
      readonly challenge: MppxChallenge.Challenge;
      readonly context?: z.output<typeof miteRequestContext>;
    }): Promise<string> {
      const challenge = miteChallengeOf(parameters.challenge, nowSeconds());
      const site = miteSiteOf(challenge, parameters.context?.url);
      const obtained = await broker.obtain(challenge, site, presentedOnce);
      if (obtained.source !== 'stored' && !obtained.paid.reusable) {
        presentedOnce.add(obtained.credential);
      }
      return obtained.credential;
    },
  });
  return Object.assign(method, { spent: () => payer.spent() });
}
