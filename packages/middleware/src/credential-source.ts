/**
 * Where a request carries its payment: `Authorization: Payment <credential>` (the draft's way) or
 * the x402 `PAYMENT-SIGNATURE` header, whose payload is the same Mite credential. Also when a
 * client wants the x402 envelope on a 402.
 */
import {
  type Credential,
  parseCredentialHeader,
  parseX402PaymentSignature,
  type ProtocolErrorCode,
} from '@mite/protocol';

/**
 * When a 402 also carries `PAYMENT-REQUIRED`: `always` (the default), so that stock x402 clients,
 * which send no hint, discover the offer; `onRequest` only when the client shows it speaks x402,
 * by sending `PAYMENT-SIGNATURE` or `X-Payment-Protocol: x402`; `never` also ignores
 * `PAYMENT-SIGNATURE`.
 */
export type X402Mode = 'onRequest' | 'always' | 'never';

/** The request header by which a client asks for the x402 envelope. */
export const x402HintHeaderName = 'X-Payment-Protocol';

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A header's value; repeated fields are joined as HTTP joins them, with ", ". */
function joined(value: string | readonly string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : value?.join(', ');
}

/** The headers a payment may come in, read once per priced request. */
export interface PaymentHeaders {
  readonly authorization: string | undefined;
  readonly paymentSignature: string | undefined;
  /** `X-Payment-Protocol`. */
  readonly x402Hint: string | undefined;
}

const authorizationName = 'authorization';
const paymentSignatureName = 'payment-signature';
const x402HintName = x402HintHeaderName.toLowerCase();

/**
 * The three payment headers. Names are looked up in lower case, as node:http and Fetch give them;
 * a name missing so is looked for in other cases, by one scan of the names for all three (most
 * requests lack two of them), which allocates nothing for the other headers.
 */
export function readPaymentHeaders(headers: Headers): PaymentHeaders {
  let authorization = headers[authorizationName];
  let paymentSignature = headers[paymentSignatureName];
  let x402Hint = headers[x402HintName];
  if (authorization === undefined || paymentSignature === undefined || x402Hint === undefined) {
    for (const key in headers) {
      const { length } = key;
      if (
        length !== authorizationName.length &&
        length !== paymentSignatureName.length &&
        length !== x402HintName.length
      ) {
        continue;
      }
      const lower = key.toLowerCase();
      if (lower === key) continue;
      // The first name found in another case wins.
      if (lower === authorizationName) authorization ??= headers[key];
      else if (lower === paymentSignatureName) paymentSignature ??= headers[key];
      else if (lower === x402HintName) x402Hint ??= headers[key];
    }
  }
  return {
    authorization: joined(authorization),
    paymentSignature: joined(paymentSignature),
    x402Hint: joined(x402Hint),
  };
}

/** Whether a 402 carries `PAYMENT-REQUIRED` for this request. */
export function wantsX402(mode: X402Mode, headers: PaymentHeaders): boolean {
  if (mode !== 'onRequest') return mode === 'always';
  return speaksX402(headers);
}

/** Whether the client shows it speaks x402: it sent `PAYMENT-SIGNATURE` or the hint header. */
export function speaksX402(headers: PaymentHeaders): boolean {
  if (headers.paymentSignature !== undefined) return true;
  const hint = headers.x402Hint;
  return (
    hint !== undefined && hint.split(',').some((token) => token.trim().toLowerCase() === 'x402')
  );
}

export type PresentedCredential =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly code: ProtocolErrorCode; readonly detail: string }
  | {
      readonly kind: 'credential';
      readonly credential: Credential;
      readonly via: CredentialSource;
    };

/** Which header a credential came in. */
export type CredentialSource = 'authorization' | 'x402';

/** A credential's text as presented, not yet decoded. */
export type PresentedText =
  | { readonly kind: 'none' }
  | { readonly kind: 'malformed'; readonly code: ProtocolErrorCode; readonly detail: string }
  | { readonly kind: 'text'; readonly text: string; readonly via: CredentialSource };

// Another scheme (a site's own Bearer tokens, say) is not a payment, so it is not refused here.
const paymentScheme = /^\s*payment(?:\s|$)/i;
/** How clients write the scheme (`formatCredentialHeader`), answered without the pattern. */
const paymentSchemePrefix = 'Payment ';

function isPaymentScheme(authorization: string): boolean {
  return authorization.startsWith(paymentSchemePrefix) || paymentScheme.test(authorization);
}

/**
 * Which header carries the credential, and its text: what the credential is decoded from, and
 * what a cache of verified credentials is keyed by.
 */
export function readCredentialText(mode: X402Mode, headers: PaymentHeaders): PresentedText {
  const { authorization } = headers;
  const payment =
    authorization !== undefined && isPaymentScheme(authorization) ? authorization : undefined;
  const signature = mode === 'never' ? undefined : headers.paymentSignature;
  if (payment !== undefined && signature !== undefined) {
    return {
      kind: 'malformed',
      code: 'malformedHeader',
      detail: 'send the credential in Authorization or in PAYMENT-SIGNATURE, not both',
    };
  }
  if (payment !== undefined) return { kind: 'text', text: payment, via: 'authorization' };
  if (signature !== undefined) return { kind: 'text', text: signature, via: 'x402' };
  return { kind: 'none' };
}

/** Decodes a credential's text as its header's format says. */
export function decodeCredentialText(
  text: string,
  via: CredentialSource,
): Exclude<PresentedCredential, { readonly kind: 'none' }> {
  const parsed =
    via === 'authorization' ? parseCredentialHeader(text) : parseX402PaymentSignature(text);
  if (!parsed.ok) return { kind: 'malformed', code: parsed.code, detail: parsed.detail };
  return { kind: 'credential', credential: parsed.value, via };
}
