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
 * When a 402 also carries `PAYMENT-REQUIRED`: `onRequest` (the default) when the client shows it
 * speaks x402, by sending `PAYMENT-SIGNATURE` or `X-Payment-Protocol: x402`; `always`, for sites
 * that want stock x402 clients, which send no hint, to discover them; `never` also ignores
 * `PAYMENT-SIGNATURE`.
 */
export type X402Mode = 'onRequest' | 'always' | 'never';

/** The request header by which a client asks for the x402 envelope. */
export const x402HintHeaderName = 'X-Payment-Protocol';

type Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A header's value; repeated fields are joined as HTTP joins them, with ", ". */
export function readHeader(headers: Headers, name: string): string | undefined {
  const lower = name.toLowerCase();
  let value = headers[lower];
  if (value === undefined) {
    // Names in another case: a scan without allocating, since most headers are absent.
    for (const key in headers) {
      if (key.length === lower.length && key !== lower && key.toLowerCase() === lower) {
        value = headers[key];
        break;
      }
    }
  }
  return typeof value === 'string' ? value : value?.join(', ');
}

export function wantsX402(mode: X402Mode, request: { readonly headers: Headers }): boolean {
  if (mode !== 'onRequest') return mode === 'always';
  if (readHeader(request.headers, 'payment-signature') !== undefined) return true;
  const hint = readHeader(request.headers, x402HintHeaderName) ?? '';
  return hint.split(',').some((token) => token.trim().toLowerCase() === 'x402');
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

/**
 * Which header carries the credential, and its text: what the credential is decoded from, and
 * what a cache of verified credentials is keyed by.
 */
export function readCredentialText(
  mode: X402Mode,
  request: { readonly headers: Headers },
): PresentedText {
  const authorization = readHeader(request.headers, 'authorization');
  const payment =
    authorization !== undefined && paymentScheme.test(authorization) ? authorization : undefined;
  const signature = mode === 'never' ? undefined : readHeader(request.headers, 'payment-signature');
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
